"""GitOps delivery: commit a rendered package to a site's config repository and push it.

Pure library (no Airflow imports). Credentials travel in an HTTP header set through git's
environment configuration, never in a remote URL, an argument list or a log line.

``repo`` (:class:`~.repo.SiteRepo`, the operations) stands on ``clone`` (the locked local clone and
the one push-with-retry), ``history`` (reading what was delivered and reverted), ``messages``
(commit messages, their trailers, argument checks), ``records`` (results) and ``errors``.
"""
