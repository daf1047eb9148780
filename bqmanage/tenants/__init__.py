"""Tenants: the registry, tenant ids, per-tenant dataset templates, fleet runs, tenant commands and the quota reset."""
