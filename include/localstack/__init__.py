"""The local stack of the demo, the tests and the benchmarks: a Git server, simulated edge sites and
Airflow's components, each a real process on a free loopback port."""
