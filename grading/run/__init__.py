"""The grading run: nbgrader's grading configuration, workers and their watchdog, the kernel sandbox, the
answers verified outside the kernel, a student's policy run sandboxed, the Dask cluster."""
