"""CONTRACT STUB: blueprint `ops` (its owner replaces this)."""

from flask import Blueprint

bp = Blueprint("ops", __name__)
