import re

from course_lib import data, environment


def test_a_working_setup_reports_every_item_ok():
    checks = environment.check_environment()
    names = [c.name for c in checks]
    assert names[0] == "Python" and "torch" in names and names[-1] == "Fashion-MNIST"
    assert all(c.ok for c in checks), environment.report(checks)
    assert "Everything the course needs is here." in environment.report(checks)


def test_a_missing_package_and_missing_data_say_how_to_fix(monkeypatch):
    monkeypatch.setitem(environment.PACKAGES, "not_a_real_module", ("not-a-real-package", "1.0"))

    def nothing_found(*args, **kwargs):
        raise data.DataNotFoundError("Fashion-MNIST was not found\nsudo apt-get install dataset-fashion-mnist")

    monkeypatch.setattr(data, "find_fashion_mnist", nothing_found)
    text = environment.report(environment.check_environment())
    assert re.search(r"FIX  not-a-real-package +not installed", text)
    assert "* not-a-real-package: pip install 'not-a-real-package>=1.0'" in text
    assert re.search(r"FIX  Fashion-MNIST +Fashion-MNIST was not found", text)
    assert "sudo apt-get install dataset-fashion-mnist" in text


def test_an_old_version_is_flagged(monkeypatch):
    monkeypatch.setitem(environment.PACKAGES, "numpy", ("numpy", "999.0"))
    check = next(c for c in environment.check_environment(data=False) if c.name == "numpy")
    assert not check.ok and "numpy>=999.0" in check.fix
