"""HubSpot signature checks: published vectors, and one test per failure mode."""

from __future__ import annotations

import pytest

from connector.web.signatures import (
    SignatureError,
    decode_v3_uri,
    sign_v1,
    sign_v2,
    sign_v3,
    verify_signature,
)

DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://connector.example.com/webhooks/hubspot"
BODY = b'[{"eventId":1,"objectId":123,"subscriptionType":"contact.creation"}]'
NOW_MS = 1_700_000_000_000
SECRET = "s3cret"


def v3_headers(body: bytes = BODY, url: str = URL, ts: int = NOW_MS, secret: str = SECRET):
    return {
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, ts),
        "X-HubSpot-Request-Timestamp": str(ts),
    }


def check(headers, body: bytes = BODY, url: str = URL, secret: str = SECRET) -> str:
    return verify_signature(method="POST", url=url, body=body, headers=headers, secret=secret,
                            now_ms=NOW_MS)


def test_v3_matches_hubspots_published_vector():
    body = b"{'example_field':'example_value'}"
    expected = "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    assert sign_v3(DOC_SECRET, "POST", "https://www.example.com/webhook_uri", body,
                   1693657560000) == expected
    headers = {"X-HubSpot-Signature-v3": expected, "X-HubSpot-Request-Timestamp": "1693657560000"}
    assert verify_signature(method="POST", url="https://www.example.com/webhook_uri", body=body,
                            headers=headers, secret=DOC_SECRET, now_ms=1693657560000 + 1000) == "v3"


def test_v1_matches_hubspots_published_vector():
    body = (b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
            b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
            b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]')
    signature = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert sign_v1(DOC_SECRET, body) == signature
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v1"}
    assert check(headers, body=body, secret=DOC_SECRET) == "v1"


def test_v2_matches_hubspots_published_vector():
    signature = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert sign_v2(DOC_SECRET, "GET", "https://www.example.com/webhook_uri", b"") == signature
    headers = {"X-HubSpot-Signature": sign_v2("s3cret", "POST", URL, BODY),
               "X-HubSpot-Signature-Version": "v2"}
    assert check(headers) == "v2"
    with pytest.raises(SignatureError, match="v2"):
        check(headers, url=URL + "?x=1")


def test_valid_v3_request_passes():
    assert check(v3_headers()) == "v3"


def test_header_names_are_case_insensitive():
    assert check({k.lower(): v for k, v in v3_headers().items()}) == "v3"


def test_tampered_body_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check(v3_headers(), body=BODY.replace(b"123", b"124"))


def test_wrong_url_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check(v3_headers(url="https://evil.example.com/webhooks/hubspot"))


def test_wrong_secret_is_rejected():
    with pytest.raises(SignatureError, match="does not match"):
        check(v3_headers(secret="other"))


def test_stale_timestamp_is_rejected():
    with pytest.raises(SignatureError, match="older"):
        check(v3_headers(ts=NOW_MS - 5 * 60 * 1000 - 1))


def test_timestamp_just_inside_the_window_passes():
    assert check(v3_headers(ts=NOW_MS - 5 * 60 * 1000)) == "v3"


def test_future_timestamp_is_rejected():
    with pytest.raises(SignatureError, match="future"):
        check(v3_headers(ts=NOW_MS + 5 * 60 * 1000 + 1))


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1e12", "9" * 40])
def test_malformed_timestamp_is_rejected(timestamp):
    headers = v3_headers() | {"X-HubSpot-Request-Timestamp": timestamp}
    with pytest.raises(SignatureError, match="Timestamp"):
        check(headers)


def test_missing_headers_are_rejected():
    with pytest.raises(SignatureError, match="no X-HubSpot-Signature"):
        check({})


def test_missing_or_unknown_version_is_rejected():
    signature = sign_v1("s3cret", BODY)
    with pytest.raises(SignatureError, match="Version"):
        check({"X-HubSpot-Signature": signature})
    with pytest.raises(SignatureError, match="Version"):
        check({"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v9"})


def test_no_secret_configured_rejects_everything():
    with pytest.raises(SignatureError, match="no client secret"):
        check(v3_headers(secret=""), secret="")


def test_non_ascii_signature_header_is_a_mismatch_not_a_crash():
    headers = v3_headers() | {"X-HubSpot-Signature-v3": "sïgnature"}
    with pytest.raises(SignatureError):
        check(headers)


def test_v3_decodes_the_escapes_hubspot_lists():
    assert decode_v3_uri("https://x.test/a%3Ab%2fc?d=%40e%20f") == "https://x.test/a:b/c?d=@e%20f"
    signed_decoded = sign_v3("s3cret", "POST", "https://x.test/hook?to=a@b.c", BODY, NOW_MS)
    headers = {"X-HubSpot-Signature-v3": signed_decoded,
               "X-HubSpot-Request-Timestamp": str(NOW_MS)}
    assert check(headers, url="https://x.test/hook?to=a%40b.c") == "v3"
