"""Readiness scoring, pure: contact properties and a mapping in, score, tier and reasons out;
no I/O."""
