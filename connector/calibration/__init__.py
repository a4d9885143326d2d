"""Calibration, pure: readiness snapshots and their outcomes in, how well the score ranks them,
what each signal tells, and proposed weights out. No I/O; imports nothing of the connector but
scoring and its errors."""
