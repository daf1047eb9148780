DECLARE bqm_carry_tenants ARRAY<STRING> DEFAULT ARRAY(
  SELECT DISTINCT r.`tenant_id` FROM `tenants`.`tenant_profiles` AS r
  WHERE r.`status` = "active" AND REGEXP_CONTAINS(r.`tenant_id`, "^[a-z0-9][a-z0-9_-]{0,62}$") AND NOT EXISTS (
    SELECT 1 FROM `tenants`.`tenant_usage_quotas` AS q
    WHERE q.`tenant_id` = r.`tenant_id` AND q.`usage_date` >= DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`usage_date` <= @run_date));
DECLARE bqm_carry_from DATE DEFAULT DATE_SUB(@run_date, INTERVAL 35 DAY);
IF ARRAY_LENGTH(bqm_carry_tenants) > 0 THEN
  SET bqm_carry_from = (SELECT IFNULL(MIN(last_date), bqm_carry_from) FROM (
    SELECT q.`tenant_id` AS tenant, MAX(q.`usage_date`) AS last_date
    FROM `tenants`.`tenant_usage_quotas` AS q
    WHERE q.`usage_date` < DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`tenant_id` IN UNNEST(bqm_carry_tenants)
    GROUP BY q.`tenant_id`));
END IF;

MERGE `tenants`.`tenant_usage_quotas` AS target
USING (
  SELECT
    CONCAT(r.`tenant_id`, '-', FORMAT_DATE('%Y%m%d', @run_date)) AS `usage_id`,
    r.`tenant_id` AS `tenant_id`,
    @run_date AS `usage_date`,
    0 AS `pipelines_run_today`,
    0 AS `pipelines_succeeded_today`,
    0 AS `pipelines_failed_today`,
    0 AS `pipelines_cancelled_today`,
    IF(l.`tenant_id` IS NOT NULL AND DATE_TRUNC(l.`usage_date`, MONTH) = DATE_TRUNC(@run_date, MONTH), l.`pipelines_run_month`, 0) AS `pipelines_run_month`,
    IF(l.`tenant_id` IS NULL, 0, l.`concurrent_pipelines_running`) AS `concurrent_pipelines_running`,
    0 AS `max_concurrent_reached`,
    IF(l.`tenant_id` IS NULL, r.`daily_limit`, l.`daily_limit`) AS `daily_limit`,
    IF(l.`tenant_id` IS NULL, r.`monthly_limit`, l.`monthly_limit`) AS `monthly_limit`,
    IF(l.`tenant_id` IS NULL, r.`concurrent_limit`, l.`concurrent_limit`) AS `concurrent_limit`,
    FALSE AS `quota_exceeded`,
    FALSE AS `quota_warning_sent`,
    CAST(NULL AS TIMESTAMP) AS `quota_exceeded_at`,
    0 AS `total_api_calls_today`,
    IF(l.`tenant_id` IS NULL, NUMERIC "0", l.`total_storage_used_gb`) AS `total_storage_used_gb`,
    CURRENT_TIMESTAMP() AS `last_updated`,
    IF(l.`tenant_id` IS NULL, CAST(NULL AS TIMESTAMP), l.`last_pipeline_started_at`) AS `last_pipeline_started_at`,
    IF(l.`tenant_id` IS NULL, CAST(NULL AS TIMESTAMP), l.`last_pipeline_completed_at`) AS `last_pipeline_completed_at`,
    CURRENT_TIMESTAMP() AS `created_at`
  FROM (
    SELECT * FROM (
      SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.`tenant_id` ORDER BY r.`daily_limit` ASC NULLS LAST, r.`monthly_limit` ASC NULLS LAST, r.`concurrent_limit` ASC NULLS LAST) AS _bqm_copy
      FROM `tenants`.`tenant_profiles` AS r
      WHERE r.`status` = "active" AND REGEXP_CONTAINS(r.`tenant_id`, "^[a-z0-9][a-z0-9_-]{0,62}$")
    ) WHERE _bqm_copy = 1
  ) AS r
  LEFT JOIN (
    SELECT * FROM (
      SELECT q.*, ROW_NUMBER() OVER (PARTITION BY q.`tenant_id` ORDER BY q.`usage_date` DESC) AS _bqm_rank
      FROM (
        SELECT * FROM `tenants`.`tenant_usage_quotas` AS q
        WHERE q.`usage_date` >= DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`usage_date` < @run_date
        UNION ALL
        SELECT * FROM `tenants`.`tenant_usage_quotas` AS q
        WHERE q.`usage_date` >= bqm_carry_from AND q.`usage_date` < DATE_SUB(@run_date, INTERVAL 35 DAY) AND q.`tenant_id` IN UNNEST(bqm_carry_tenants)
      ) AS q
    ) WHERE _bqm_rank = 1
  ) AS l ON l.`tenant_id` = r.`tenant_id`
) AS source
ON target.`tenant_id` = source.`tenant_id` AND target.`usage_date` = @run_date
WHEN NOT MATCHED THEN INSERT (`usage_id`, `tenant_id`, `usage_date`, `pipelines_run_today`, `pipelines_succeeded_today`, `pipelines_failed_today`, `pipelines_cancelled_today`, `pipelines_run_month`, `concurrent_pipelines_running`, `max_concurrent_reached`, `daily_limit`, `monthly_limit`, `concurrent_limit`, `quota_exceeded`, `quota_warning_sent`, `quota_exceeded_at`, `total_api_calls_today`, `total_storage_used_gb`, `last_updated`, `last_pipeline_started_at`, `last_pipeline_completed_at`, `created_at`) VALUES (source.`usage_id`, source.`tenant_id`, source.`usage_date`, source.`pipelines_run_today`, source.`pipelines_succeeded_today`, source.`pipelines_failed_today`, source.`pipelines_cancelled_today`, source.`pipelines_run_month`, source.`concurrent_pipelines_running`, source.`max_concurrent_reached`, source.`daily_limit`, source.`monthly_limit`, source.`concurrent_limit`, source.`quota_exceeded`, source.`quota_warning_sent`, source.`quota_exceeded_at`, source.`total_api_calls_today`, source.`total_storage_used_gb`, source.`last_updated`, source.`last_pipeline_started_at`, source.`last_pipeline_completed_at`, source.`created_at`);

MERGE `tenants`.`tenant_usage_quotas` AS target
USING (
  WITH keep AS (
    SELECT `usage_id`, `tenant_id`, `usage_date`, `pipelines_run_today`, `pipelines_succeeded_today`, `pipelines_failed_today`, `pipelines_cancelled_today`, `pipelines_run_month`, `concurrent_pipelines_running`, `max_concurrent_reached`, `daily_limit`, `monthly_limit`, `concurrent_limit`, `quota_exceeded`, `quota_warning_sent`, `quota_exceeded_at`, `total_api_calls_today`, `total_storage_used_gb`, `last_updated`, `last_pipeline_started_at`, `last_pipeline_completed_at`, `created_at` FROM (
      SELECT d.*, ROW_NUMBER() OVER (PARTITION BY d.`tenant_id` ORDER BY d.`last_updated`, d.`created_at`, d.`usage_id`) AS _bqm_rank,
        COUNT(*) OVER (PARTITION BY d.`tenant_id`) AS _bqm_copies
      FROM `tenants`.`tenant_usage_quotas` AS d
      WHERE d.`usage_date` = @run_date
    ) WHERE _bqm_copies > 1 AND _bqm_rank = 1
  )
  SELECT `tenant_id` AS _bqm_key, `usage_id`, `tenant_id`, `usage_date`, `pipelines_run_today`, `pipelines_succeeded_today`, `pipelines_failed_today`, `pipelines_cancelled_today`, `pipelines_run_month`, `concurrent_pipelines_running`, `max_concurrent_reached`, `daily_limit`, `monthly_limit`, `concurrent_limit`, `quota_exceeded`, `quota_warning_sent`, `quota_exceeded_at`, `total_api_calls_today`, `total_storage_used_gb`, `last_updated`, `last_pipeline_started_at`, `last_pipeline_completed_at`, `created_at` FROM keep
  UNION ALL
  SELECT CAST(NULL AS STRING), `usage_id`, `tenant_id`, `usage_date`, `pipelines_run_today`, `pipelines_succeeded_today`, `pipelines_failed_today`, `pipelines_cancelled_today`, `pipelines_run_month`, `concurrent_pipelines_running`, `max_concurrent_reached`, `daily_limit`, `monthly_limit`, `concurrent_limit`, `quota_exceeded`, `quota_warning_sent`, `quota_exceeded_at`, `total_api_calls_today`, `total_storage_used_gb`, `last_updated`, `last_pipeline_started_at`, `last_pipeline_completed_at`, `created_at` FROM keep
) AS source
ON target.`tenant_id` = source._bqm_key AND target.`usage_date` = @run_date
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED THEN INSERT (`usage_id`, `tenant_id`, `usage_date`, `pipelines_run_today`, `pipelines_succeeded_today`, `pipelines_failed_today`, `pipelines_cancelled_today`, `pipelines_run_month`, `concurrent_pipelines_running`, `max_concurrent_reached`, `daily_limit`, `monthly_limit`, `concurrent_limit`, `quota_exceeded`, `quota_warning_sent`, `quota_exceeded_at`, `total_api_calls_today`, `total_storage_used_gb`, `last_updated`, `last_pipeline_started_at`, `last_pipeline_completed_at`, `created_at`) VALUES (source.`usage_id`, source.`tenant_id`, source.`usage_date`, source.`pipelines_run_today`, source.`pipelines_succeeded_today`, source.`pipelines_failed_today`, source.`pipelines_cancelled_today`, source.`pipelines_run_month`, source.`concurrent_pipelines_running`, source.`max_concurrent_reached`, source.`daily_limit`, source.`monthly_limit`, source.`concurrent_limit`, source.`quota_exceeded`, source.`quota_warning_sent`, source.`quota_exceeded_at`, source.`total_api_calls_today`, source.`total_storage_used_gb`, source.`last_updated`, source.`last_pipeline_started_at`, source.`last_pipeline_completed_at`, source.`created_at`);
