"""prm.tenancy.confirm: what the confirmation page repeats and when a
request counts as confirmed."""

from django.test import RequestFactory

from prm.tenancy import confirm

factory = RequestFactory()


def test_a_post_is_repeated_whole_but_its_token_and_answer():
    request = factory.post(
        "/x/",
        {
            "csrfmiddlewaretoken": "t",
            "confirm": "no",
            "action": "deactivate",
            "_selected_action": ["a", "b"],
        },
    )
    assert confirm.hidden_inputs(request) == [
        ("action", "deactivate"),
        ("_selected_action", "a"),
        ("_selected_action", "b"),
    ]
    assert confirm.hidden_inputs(request, {"reason": None, "n": 2}) == [("reason", ""), ("n", "2")]
    assert confirm.hidden_inputs(factory.get("/x/")) == []


def test_only_a_post_with_confirm_yes_is_confirmed():
    assert confirm.is_confirmed(factory.post("/x/", {"confirm": "yes"}))
    assert not confirm.is_confirmed(factory.post("/x/", {"confirm": "1"}))
    assert not confirm.is_confirmed(factory.post("/x/", {}))
    assert not confirm.is_confirmed(factory.get("/x/", {"confirm": "yes"}))
