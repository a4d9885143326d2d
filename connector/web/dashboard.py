"""CONTRACT STUB: blueprint `dashboard` (its owner replaces this)."""

from flask import Blueprint

bp = Blueprint("dashboard", __name__)
