"""The worker and clock processes: draining the inbox, the scheduled passes under their locks,
the program-due job."""
