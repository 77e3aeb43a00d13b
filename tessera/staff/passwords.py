"""The password policy: every password set anywhere passes `check_password` first.

Two offline checks: a minimum length, and a strength estimate by zxcvbn (Dropbox's
estimator, ported to Python), which finds dictionary words, common passwords, names,
keyboard patterns, sequences, dates and the account's own username and name, and scores
how many guesses a password would take from 0 to 4. We ask for 3 ("safely unguessable":
about 10^8 guesses or more), so a long passphrase of ordinary words passes and a long
but predictable string does not. Nothing leaves the machine.
"""

import secrets
import threading
from collections.abc import Iterable

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from zxcvbn import zxcvbn

from tessera.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
# Enough for any passphrase; also bounds the time the estimate and argon2 take.
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score from 0 (too guessable) to 4 (very unguessable).
MIN_STRENGTH = 3
# zxcvbn refuses longer input; what follows these characters only adds strength.
_ESTIMATED_LENGTH = 72
# zxcvbn keeps the user inputs of a call in a module-level dictionary: two threads
# estimating at once could each score against the other's username.
_estimate_lock = threading.Lock()

# zxcvbn's feedback is in English; these are its sentences in ours, so that the
# integrator translates them with the rest. A sentence missing here is shown as it is.
_FEEDBACK = {
    "Use a few words, avoid common phrases.":
        lazy_gettext("Use a few words, avoid common phrases."),
    "No need for symbols, digits, or uppercase letters.":
        lazy_gettext("No need for symbols, digits, or uppercase letters."),
    "Add another word or two. Uncommon words are better.":
        lazy_gettext("Add another word or two. Uncommon words are better."),
    "Straight rows of keys are easy to guess.":
        lazy_gettext("Straight rows of keys are easy to guess."),
    "Short keyboard patterns are easy to guess.":
        lazy_gettext("Short keyboard patterns are easy to guess."),
    "Use a longer keyboard pattern with more turns.":
        lazy_gettext("Use a longer keyboard pattern with more turns."),
    'Repeats like "aaa" are easy to guess.':
        lazy_gettext('Repeats like "aaa" are easy to guess.'),
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".':
        lazy_gettext('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    "Avoid repeated words and characters.":
        lazy_gettext("Avoid repeated words and characters."),
    'Sequences like "abc" or "6543" are easy to guess.':
        lazy_gettext('Sequences like "abc" or "6543" are easy to guess.'),
    "Avoid sequences.": lazy_gettext("Avoid sequences."),
    "Recent years are easy to guess.": lazy_gettext("Recent years are easy to guess."),
    "Avoid recent years.": lazy_gettext("Avoid recent years."),
    "Avoid years that are associated with you.":
        lazy_gettext("Avoid years that are associated with you."),
    "Dates are often easy to guess.": lazy_gettext("Dates are often easy to guess."),
    "Avoid dates and years that are associated with you.":
        lazy_gettext("Avoid dates and years that are associated with you."),
    "This is a top-10 common password.": lazy_gettext("This is a top-10 common password."),
    "This is a top-100 common password.": lazy_gettext("This is a top-100 common password."),
    "This is a very common password.": lazy_gettext("This is a very common password."),
    "This is similar to a commonly used password.":
        lazy_gettext("This is similar to a commonly used password."),
    "A word by itself is easy to guess.": lazy_gettext("A word by itself is easy to guess."),
    "Names and surnames by themselves are easy to guess.":
        lazy_gettext("Names and surnames by themselves are easy to guess."),
    "Common names and surnames are easy to guess.":
        lazy_gettext("Common names and surnames are easy to guess."),
    "Capitalization doesn't help very much.":
        lazy_gettext("Capitalization doesn't help very much."),
    "All-uppercase is almost as easy to guess as all-lowercase.":
        lazy_gettext("All-uppercase is almost as easy to guess as all-lowercase."),
    "Reversed words aren't much harder to guess.":
        lazy_gettext("Reversed words aren't much harder to guess."),
    "Predictable substitutions like '@' instead of 'a' don't help very much.":
        lazy_gettext("Predictable substitutions like '@' instead of 'a' don't help very much."),
}


def _translated(sentence: str) -> str:
    return str(_FEEDBACK.get(sentence, sentence))


def password_problems(password: str, personal: Iterable[str] = ()) -> list[str]:
    """What is wrong with `password`, in the reader's language; empty if it is acceptable.

    `personal` are words of the account (username, name, site) that a password should
    not lean on: zxcvbn counts them as the easiest of guesses.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return [_("A password needs at least %(count)s characters.",
                  count=MIN_PASSWORD_LENGTH)]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [_("A password may have at most %(count)s characters.",
                  count=MAX_PASSWORD_LENGTH)]
    words = [word for word in personal if word]
    with _estimate_lock:
        estimate = zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=words)
    if estimate["score"] >= MIN_STRENGTH:
        return []
    feedback = estimate["feedback"]
    problems = [_("This password is too easy to guess.")]
    if feedback.get("warning"):
        problems.append(_translated(feedback["warning"]))
    problems += [_translated(suggestion) for suggestion in feedback.get("suggestions", [])]
    if len(problems) == 1:
        problems.append(_("Use a few uncommon words, or a longer password."))
    return problems


def check_password(password: str, personal: Iterable[str] = ()) -> None:
    """Raise InvalidInput (code weak_password) unless `password` meets the policy; its
    message says what is wrong and how to do better."""
    problems = password_problems(password, personal)
    if problems:
        raise InvalidInput(" ".join(problems), "weak_password")


def generate_password(personal: Iterable[str] = ()) -> str:
    """A random password that meets the policy (16 characters from 96 random bits)."""
    words = list(personal)
    while True:
        password = secrets.token_urlsafe(12)
        # Random text scores 4 in practice; the loop only guards against a freak draw
        # that happens to spell a word or a pattern.
        if not password_problems(password, words):
            return password
