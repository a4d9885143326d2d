"""The program in numbers, for `connector report` and the dashboard: funnel, referrals,
rewards, revenue, health."""
