"""The password policy (tessera.staff.passwords): length and a zxcvbn strength estimate,
offline, applied wherever a password is set."""

import os
import subprocess
import sys

import pytest
from flask import Flask
from flask_babel import Babel
from sqlalchemy import select

from tessera.errors import InvalidInput
from tessera.models import Staff
from tessera.staff.accounts import create_staff, set_password
from tessera.staff.auth import authenticate
from tessera.staff.passwords import (
    MIN_PASSWORD_LENGTH,
    check_password,
    generate_password,
    password_problems,
)

from .helpers import PASSWORD, ROOT


@pytest.fixture(autouse=True)
def babel_context():
    """Messages are translated strings: a request context with Babel, in English."""
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield


@pytest.mark.parametrize(("password", "problem"), [
    ("short words", f"at least {MIN_PASSWORD_LENGTH} characters"),
    ("x" * 129, "at most 128 characters"),
    ("password1234", "This is a very common password."),
    ("qwertyuiopasdf", "This is similar to a commonly used password."),
    ("aaaaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
    ("abcdefghijklmn", "Avoid sequences."),
])
def test_a_weak_password_is_refused_with_what_is_wrong(password, problem):
    with pytest.raises(InvalidInput) as refused:
        check_password(password)
    assert refused.value.code == "weak_password"
    assert problem in refused.value.message


def test_a_long_passphrase_passes_and_the_tests_password_too():
    assert password_problems(PASSWORD) == []
    assert password_problems("seven orange kites over the harbour") == []


def test_the_accounts_own_words_make_a_password_weak():
    assert password_problems("mariapapadaki") == []
    problems = password_problems("mariapapadaki", ["maria", "Papadaki"])
    assert problems[0] == "This password is too easy to guess."


def test_generated_passwords_pass_the_policy():
    passwords = {generate_password(["anna"]) for _ in range(20)}
    assert len(passwords) == 20
    assert all(password_problems(password) == [] for password in passwords)


def test_every_way_of_setting_a_password_applies_the_policy(database, site, clock):
    with database.session() as session, pytest.raises(InvalidInput):
        create_staff(session, site.id, "nikos", "Nikos", "staff", ["el"], ["municipality"],
                     "password1234")
    with database.session() as session:
        assert session.scalar(select(Staff).where(Staff.username == "nikos")) is None
        nikos, _ = create_staff(session, site.id, "nikos", "Nikos", "staff", ["el"],
                                ["municipality"], PASSWORD)
    with database.session() as session, pytest.raises(InvalidInput):
        set_password(session, "nikos", "nikos nikos nikos", clock())
    with database.session() as session:
        assert session.get(Staff, nikos.id).password_hash == nikos.password_hash
        # Without a password given, one is generated, and it works.
        generated = set_password(session, "nikos", None, clock())
    with database.session() as session:
        assert authenticate(session, "nikos", generated) is not None


def test_outside_the_tests_passwords_are_hashed_at_argon2s_full_cost():
    # The suite hashes cheaply (conftest); an operator's process must never.
    environment = {name: value for name, value in os.environ.items()
                   if name != "TESSERA_TEST_PASSWORD_HASHING"}
    shown = subprocess.run(
        [sys.executable, "-c", "from tessera.staff.auth import password_hasher as h; "
         "print(h.time_cost, h.memory_cost, h.parallelism)"],
        env=environment, capture_output=True, text=True, check=True, cwd=ROOT)
    assert shown.stdout.split() == ["3", "65536", "4"]
