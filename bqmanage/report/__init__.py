"""Report: text, files, SARIF. Formatting only; nothing below it imports it."""
