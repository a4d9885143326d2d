"""CONTRACT STUB: blueprint `webhooks` (its owner replaces this)."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
