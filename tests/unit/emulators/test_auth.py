"""The emulator's signature check, against a payload built by hand from the documented rule."""

import hashlib
import hmac

from atp.emulators.cryptocom.auth import ApiKey, param_string, verify


def test_param_string_sorts_keys_and_flattens_lists():
    params = {"b": "2", "a": 1, "order_list": [{"z": "1", "y": "x"}, {"k": None}]}
    assert param_string(params) == "a1b2order_listyxz1knull"


def test_verify_accepts_the_documented_signature_and_rejects_others():
    params = {"instrument_name": "BTC_USDT", "side": "BUY", "quantity": "0.1"}
    sorted_params = "instrument_nameBTC_USDTquantity0.1sideBUY"
    payload = "private/create-order" + "1700" + "key" + sorted_params + "1700"
    sig = hmac.new(b"secret", payload.encode(), hashlib.sha256).hexdigest()
    body = {"id": "1700", "method": "private/create-order", "params": params,
            "api_key": "key", "sig": sig, "nonce": "1700"}
    key = ApiKey("key", "secret")
    assert verify(key, body)
    assert not verify(ApiKey("key", "other"), body)
    assert not verify(key, {**body, "params": {**params, "quantity": "0.2"}})
    assert not verify(None, body)
