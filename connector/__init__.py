"""Advocate connector: advocate readiness scoring and a referral program for HubSpot."""
