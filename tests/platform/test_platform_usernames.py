"""Usernames: NFKC-normalised at sign-up and login, and a new name whose confusable skeleton (Unicode TR39, case
folded) equals an existing user's is refused with a clear message in the learner's language."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from modules.usernames import username_skeleton

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-42"


def sign_up(client, username: str, **extra):
    return client.post(
        "/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}, **extra
    )


def test_a_sign_up_stores_the_nfkc_form_of_the_name(anonymous):
    response = sign_up(anonymous, "ｇｒａｃｅ２")  # fullwidth letters and digit
    assert response.status_code == 302
    assert User.objects.filter(username="grace2").exists()


def test_a_login_accepts_the_nfkc_form_of_the_name(client, learner):
    response = client.post("/accounts/login/", {"username": "ａｄａ", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(learner.user.pk)


def test_it_refuses_a_cyrillic_look_alike_of_an_existing_name(anonymous, learner):
    response = sign_up(anonymous, "\u0430d\u0430")  # "ada" with Cyrillic а (U+0430)
    assert response.status_code == 200
    assert "looks too much like an existing username" in response.content.decode()
    assert User.objects.count() == 1


def test_it_refuses_a_case_variant_of_an_existing_name(anonymous, learner):
    response = sign_up(anonymous, "Ada")
    assert response.status_code == 200
    assert not User.objects.filter(username="Ada").exists()


def test_it_refuses_digits_that_pose_as_letters(anonymous, other_learner):
    response = sign_up(anonymous, "b0")  # zero for o, next to "bo"
    assert response.status_code == 200
    assert not User.objects.filter(username="b0").exists()


def test_the_look_alike_message_speaks_chinese(anonymous, learner):
    response = sign_up(anonymous, "\u0430d\u0430", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "与已有用户名过于相似" in response.content.decode()


def test_a_distinct_name_is_still_accepted(anonymous, learner):
    response = sign_up(anonymous, "adam")
    assert response.status_code == 302
    assert User.objects.filter(username="adam").exists()


@pytest.mark.parametrize(
    ("one", "other"),
    [("paypal", "p\u0430yp\u0430l"), ("will", "wi11"), ("modern", "modem"), ("Ada", "ada"), ("ﬁle", "file")],
)
def test_look_alikes_share_a_skeleton(one, other):
    assert username_skeleton(one) == username_skeleton(other)


@pytest.mark.parametrize(("one", "other"), [("ada", "adam"), ("bo", "bob"), ("li", "lu"), ("张三", "张五")])
def test_different_names_have_different_skeletons(one, other):
    assert username_skeleton(one) != username_skeleton(other)
