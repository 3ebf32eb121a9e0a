"""A hand-built city whose feature values can be worked out by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.factories import City
from tests.support.spark_cluster import StandaloneCluster, standalone_cluster


@pytest.fixture
def quarrel_city() -> City:
    """H1 (the applicant) against H2 (the counterparty), with a year of history before C2.

    C2 is opened 2024-03-01 10:00 (Asia/Shanghai).  H1: calls at 10, 60 and 200 days before it,
    one threatening in traditional, one in simplified characters; an earlier case C1 whose
    township mediation failed; a threat incident 100 days before.  H2: one 110 call, an assault
    400 days before, a member with a prior conviction.
    """
    return (
        City()
        .household(
            "H1", size=4, low_income=True, area_type="rural", registered_at="2019-03-01T10:00"
        )
        .person("P1", alcohol_problem=True, prior_conviction=False)
        .person("P2", alcohol_problem=False)
        .household("H2", size=2)
        .person("P3", prior_conviction=True)
        .household("H3")
        .call("H1", "2024-02-20T10:00", text="对方揚言要同歸於盡", channel="110")
        .call("H1", "2024-01-01T10:00", text="邻居噪音扰民", channel="12345")
        .call("H1", "2023-08-14T10:00", text="他说要拿刀砍死对方", channel="grid_report")
        .call("H2", "2024-02-25T10:00", text="双方争吵", channel="110")
        .call("H3", "2024-02-25T10:00", text="扬言报复", channel="110")
        .case("C1", "H1", "2023-06-01T09:00", counterparty="H3", dispute_type="land_transfer")
        .mediation("C1", "2023-06-10", level="village", outcome="no_agreement")
        .mediation("C1", "2023-07-10", level="township", outcome="party_absent")
        .case(
            "C2",
            "H1",
            "2024-03-01T10:00",
            counterparty="H2",
            dispute_type="marriage_family",
            source="police_referral",
            amount_cny=20000,
            parties_count=2,
            description="持刀威胁妻子",
            status="failed",
            closed_at="2024-09-01",
        )
        .mediation("C2", "2024-03-05", level="village", outcome="no_agreement")
        .incident("H1", "2023-11-22T10:00", offence="threat")
        .incident("H2", "2023-01-26T10:00", offence="assault")
        .screening("P1", "2024-01-15", instrument="phq9", score=14, item9=1)
        .screening("P2", "2024-02-01", instrument="phq9", score=6, item9=0)
        .screening("P1", "2024-02-10", instrument="gad7", score=9)
        .assessment("P1", "2024-01-20", "yellow")
    )


@pytest.fixture(scope="module")
def spark_cluster() -> Iterator[StandaloneCluster]:
    """A standalone cluster (a master, two workers of one core) for the Spark tests' module, stopped
    after it: its idle JVMs would otherwise take CPU from every later test."""
    with standalone_cluster(workers=2, cores=1, memory="2g") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def spark(spark_cluster: StandaloneCluster):
    """One SparkSession on the session's cluster (2 shuffle partitions), reached as a centre would
    reach its own, through ``TRIAGE_SPARK_MASTER``: the executors, not the driver, compute every
    Spark test's features and scores, as on a real cluster."""
    from triage.features.spark import spark_session
    from triage.settings import get_settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")  # the executors call the driver back there
        patch.setenv("TRIAGE_SPARK_MASTER", spark_cluster.master_url)
        get_settings.cache_clear()
        session = spark_session(
            shuffle_partitions=2,
            conf={"spark.executor.memory": "1g"},  # fits the workers whatever the environment says
        )
        assert session.sparkContext.master == spark_cluster.master_url
        yield session
        session.stop()
    get_settings.cache_clear()
