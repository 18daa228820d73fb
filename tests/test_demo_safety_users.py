"""setup_demo on an instance that already has users named admin / lead / annotator: they may be real
people, and the demo passwords are published in the README, so the command must leave them exactly as
they are (password, superuser and staff flags) and only create the demo users that are missing."""
import re

from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from labeling.items.demo_data import ensure_users
from labeling.projects.models import Membership, Project
from labeling.waves.models import Wave

LEFT_AS_IS = "already exists: left as it is (its password was not changed)"


def user_line(out: str, username: str) -> str:
    match = re.search(rf"^  {username} +(.*)$", out, flags=re.M)
    assert match, f"no line for {username} in:\n{out}"
    return match.group(1)


def test_setup_demo_leaves_real_lead_and_admin_as_they_are(db, capsys):
    User = get_user_model()
    real = {"lead": "the-leads-own-secret-9", "admin": "the-admins-own-secret-7"}
    for username, password in real.items():
        User.objects.create_user(username, email=f"{username}@corp.example", password=password,
                                 is_superuser=True, is_staff=True)
    before = {u.username: (u.password, u.email, u.is_superuser, u.is_staff, u.is_active) for u in User.objects.all()}

    call_command("setup_demo", "--items", "30", "--slug", "demo-pw")
    out = capsys.readouterr().out

    after = {u.username: (u.password, u.email, u.is_superuser, u.is_staff, u.is_active)
             for u in User.objects.filter(username__in=real)}
    assert after == before
    for username, password in real.items():
        assert authenticate(username=username, password=password) is not None
        assert user_line(out, username) == LEFT_AS_IS
    # The published passwords open nothing, and the output does not pretend they do.
    assert authenticate(username="lead", password="longtail-lead") is None
    assert authenticate(username="admin", password="longtail-admin") is None
    assert "longtail-lead" not in out and "longtail-admin" not in out
    # The missing demo user is created with its documented password and role, and no admin rights.
    assert user_line(out, "annotator") == "created: password longtail-annotator, role annotator"
    annotator = authenticate(username="annotator", password="longtail-annotator")
    assert annotator is not None and not annotator.is_superuser and not annotator.is_staff
    project = Project.objects.get(slug="demo-pw")
    assert Membership.objects.get(project=project, user=annotator).role == Membership.ANNOTATOR
    assert "python manage.py changepassword <user>" in out


def test_ensure_users_neither_promotes_nor_demotes_nor_sets_passwords(db):
    User = get_user_model()
    # A plain user who happens to be called "admin", and a staff member called "annotator".
    User.objects.create_user("admin", password="plain-users-secret-1")
    User.objects.create_user("annotator", password="staff-secret-2", is_staff=True, is_superuser=True)

    users = ensure_users("demo-pass-123")

    admin, annotator, lead = (User.objects.get(username=name) for name in ("admin", "annotator", "lead"))
    assert not admin.is_superuser and not admin.is_staff  # not promoted with a password its owner never chose
    assert annotator.is_superuser and annotator.is_staff  # not demoted
    assert authenticate(username="admin", password="demo-pass-123") is None
    assert authenticate(username="annotator", password="demo-pass-123") is None
    assert authenticate(username="admin", password="plain-users-secret-1") is not None
    assert authenticate(username="annotator", password="staff-secret-2") is not None
    assert authenticate(username="lead", password="demo-pass-123") == lead
    assert not lead.is_superuser and not lead.is_staff
    assert {name: (u.created, u.password) for name, u in users.items()} == {
        "admin": (False, None), "lead": (True, "demo-pass-123"), "annotator": (False, None)}


def test_make_demo_twice_creates_then_leaves_the_demo_users(db, capsys):
    """`make demo` runs setup_demo with no options; a second run must still work and still tell a
    newcomer who can sign in."""
    call_command("setup_demo", "--items", "30")
    first = capsys.readouterr().out
    assert user_line(first, "admin") == "created: password longtail-admin, role admin (superuser)"
    assert user_line(first, "lead") == "created: password longtail-lead, role lead"
    assert user_line(first, "annotator") == "created: password longtail-annotator, role annotator"
    assert "changepassword" not in first
    assert authenticate(username="admin", password="longtail-admin").is_superuser
    assert not authenticate(username="lead", password="longtail-lead").is_staff

    call_command("setup_demo", "--items", "30")
    second = capsys.readouterr().out
    for username in ("admin", "lead", "annotator"):
        assert user_line(second, username) == LEFT_AS_IS
    assert "README" in second and "python manage.py changepassword <user>" in second
    assert "already exists (30 items); left as it is" in second and "Sign in at http://127.0.0.1:8000" in second
    for username, password in (("admin", "longtail-admin"), ("lead", "longtail-lead"),
                               ("annotator", "longtail-annotator")):
        assert authenticate(username=username, password=password) is not None
    assert authenticate(username="admin", password="longtail-admin").is_superuser
    assert Wave.objects.filter(project__slug="support-demo").count() == 1
