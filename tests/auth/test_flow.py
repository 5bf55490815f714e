"""The account flow a new user goes through, end to end over HTTP."""

from __future__ import annotations

from tests.harness import PASSWORD, Harness, token_in


async def test_register_verify_login_refresh_logout(harness: Harness) -> None:
    registered = await harness.register("ada")
    assert registered.status_code == 201
    await harness.settle()
    [mail] = harness.emails("ada@example.com")
    assert mail["Subject"] == "Confirm your email address"
    assert mail.get_body(preferencelist=("html",)) is not None

    verified = await harness.client.post(f"/api/v1/auth/verify-email/{token_in(mail)}")
    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True

    login = await harness.login("ADA@Example.com")  # email, any case
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 30 * 60
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    me = await harness.client.get("/api/v1/auth/me", headers=headers)
    assert me.json()["username"] == "ada"
    assert "password" not in me.text
    assert "hash" not in me.text

    refreshed = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]

    new_headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert (
        await harness.client.post("/api/v1/auth/logout", headers=new_headers)
    ).status_code == 204
    after = await harness.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}
    )
    assert after.status_code == 401


async def test_oauth2_form_login_for_swagger(harness: Harness) -> None:
    await harness.signup("grace")
    response = await harness.client.post(
        "/api/v1/auth/login",
        data={"grant_type": "password", "username": "grace", "password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


async def test_username_is_unique_case_insensitively(harness: Harness) -> None:
    assert (await harness.register("linus")).status_code == 201
    taken = await harness.register("LINUS", email_address="other@example.com")
    assert taken.status_code == 409
    assert taken.json()["code"] == "auth.username_taken"
