"""A fast password hasher for the test suite (hashing at full strength took most of its time).

Same algorithm name as Django's default, with one iteration: a test user's hash is still
accepted by a worker or daphne process started by a test, which runs the real settings.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
