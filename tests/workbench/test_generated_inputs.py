"""The workbench's filters and forms driven with generated values: never a server error."""

import hypothesis
from hypothesis import strategies as st

from tests.workbench.test_pages import signed_in

EXAMPLES = hypothesis.settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
#: Any text a browser can put in a URL or a form field, plus the dates and numbers at the edges.
VALUES = st.one_of(
    st.text(max_size=40),
    st.dates().map(str),
    st.integers().map(str),
    st.sampled_from(["9999-12-31", "0001-01-01", "2200-12-31", "-1", "1e309", "yes"]),
)
QUEUE_FIELDS = (
    "band",
    "team",
    "dispute_type",
    "reviewed",
    "scored_from",
    "scored_to",
    "band_rise",
    "page",
)


def test_queue_filters(stored, client):
    signed_in(client, stored.keys["analyst"])

    @EXAMPLES
    @hypothesis.given(st.dictionaries(st.sampled_from(QUEUE_FIELDS), VALUES))
    @hypothesis.example({"scored_to": "9999-12-31"})
    @hypothesis.example({"scored_from": "0001-01-01", "page": "100000"})
    def run(query):
        response = client.get("/ui/", params=query)
        assert response.status_code in (200, 422), (query, response.status_code)

    run()


def test_review_form(stored, client):
    signed_in(client, stored.keys["analyst"])
    page = f"/ui/cases/{stored.score_ids['C-102']}"

    @EXAMPLES
    @hypothesis.given(
        st.fixed_dictionaries(
            {
                "verdict": VALUES,
                "teams": st.lists(VALUES, max_size=3),
                "priority": VALUES,
                "note": VALUES,
            }
        )
    )
    def run(form):
        response = client.post(f"{page}/review", data=form, follow_redirects=False)
        assert response.status_code in (303, 404, 422), (form, response.status_code)

    run()
