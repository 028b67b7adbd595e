"""SLO verification: the seed's five SLOs as PromQL, their evaluation over a window, the verdict.

Pure Python (no Airflow imports). A gate fails closed: no samples, or Prometheus unreachable, is
never a pass unless a profile says so explicitly.
"""
