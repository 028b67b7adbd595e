"""GitOps delivery: commit a rendered package to a site's config repository and push it.

Pure library (no Airflow imports). Credentials travel in an HTTP header set through git's
environment configuration, never in a remote URL, an argument list or a log line.
"""
