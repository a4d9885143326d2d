"""A landing page with a HubSpot form, as a company would put its referral form on its site.

HubSpot fills a form field from a query parameter named after the field's property
(knowledge.hubspot.com/forms/can-i-auto-populate-form-fields-through-a-query-string), hidden
fields included; a submission creates the contact with those values (changeSource `FORM`).
Here the page is `GET /_sandbox/landing` and the form posts back to it. Not HubSpot's markup:
only the behaviour a referral needs.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Flask, Response, current_app, request

from connector.sandbox.state import state

bp = Blueprint("sandbox_landing", __name__, url_prefix="/_sandbox")
EXTENSION = "sandbox.landing_hidden_fields"
VISIBLE = ("email", "firstname", "lastname")


def register(app: Flask, hidden_fields: list[str]) -> None:
    """Serve the landing page; `hidden_fields` are the form's hidden properties."""
    app.extensions[EXTENSION] = list(hidden_fields)
    app.register_blueprint(bp)


def _hidden_fields() -> list[str]:
    return list(current_app.extensions.get(EXTENSION) or [])


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html")


@bp.get("/landing")
def landing() -> Response:
    """The page the friend sees: the form, its hidden fields filled from the query string."""
    fields = "".join(
        f"<label>{name} <input name='{name}' value='{escape(request.args.get(name, ''))}'>"
        f"</label><br>" for name in VISIBLE)
    hidden = "".join(
        f"<input type='hidden' name='{escape(name)}' "
        f"value='{escape(request.args.get(name, ''))}'>" for name in _hidden_fields())
    utm = "".join(f"<li>{escape(k)} = {escape(v)}</li>" for k, v in request.args.items()
                  if k.startswith("utm_"))
    return _page("Your friend thinks you'll like us",
                 f"<form method='post' id='referral-form'>{fields}{hidden}"
                 f"<button type='submit'>Sign up</button></form>"
                 f"<p>Campaign parameters seen by the page:</p><ul id='utm'>{utm}</ul>")


@bp.post("/landing")
def submit() -> Response:
    """A form submission: the contact is created with the visible and hidden fields."""
    values = {name: request.form.get(name, "").strip()
              for name in (*VISIBLE, *_hidden_fields())}
    values = {name: value for name, value in values.items() if value}
    if not values.get("email"):
        return _page("Please give your email", "<p>The form needs an email address.</p>", 400)
    contact = state().portal.create_contact(values, source="FORM")
    return _page("Thanks for signing up",
                 f"<p id='contact' data-contact-id='{contact.id}'>Contact {contact.id} "
                 f"created.</p>", 201)
