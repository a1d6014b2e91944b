"""The one contract every state backend is held to.

A backend's test class subclasses :class:`StateContract` and provides a ``make_state`` fixture (a
factory: ``make_state(**constructor_kwargs)`` returns a store over the same fresh, empty database
each time it is called within one test) and :meth:`StateContract.stored_key_bytes`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragline.errors import ConfigError
from ragline.service_state import (
    ApiKey,
    AuditEvent,
    ConversationTurn,
    Feedback,
    Job,
    JobError,
    QueryTrace,
    StateError,
    StateNotFound,
    StateStore,
    Usage,
    in_experiment,
)
from ragline.service_state.base import MAX_CONVERSATION_TURNS, PRUNE_EVERY

MakeState = Callable[..., StateStore]
DAY = 86_400.0


def _trace(
    trace_id: str | None = None, *, tenant: str = "acme", created_at: float | None = None
) -> QueryTrace:
    return QueryTrace(
        id=trace_id or uuid.uuid4().hex,
        tenant=tenant,
        key_id="k1",
        collection="kb",
        question="how do backups work?",
        created_at=time.time() if created_at is None else created_at,
        payload='{"answer": "nightly", "hits": [{"id": "d1", "score": 0.9}]}',
    )


def v1_statements(jobs_ddl: str) -> list[str]:
    """SQL building a state database of schema version 1 (before job leases) whose jobs table,
    made by the backend's ``jobs_ddl``, holds one running job, ``old``."""
    return [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        "INSERT INTO schema_version VALUES (1)",
        jobs_ddl,
        "INSERT INTO jobs (id, tenant, collection, status, total, done, chunks, errors_json, message, "
        "created_at, updated_at, key_id) "
        "VALUES ('old', 'acme', 'kb', 'running', 2, 1, 5, '[]', '', 1, 1, 'k')",
    ]


def check_v1_migrated(state: StateStore) -> None:
    """The store opened over :func:`v1_statements`' database reads, recovers and leases jobs."""
    old = state.get_job("old")
    assert old is not None and (old.status, old.done, old.owner, old.lease_until) == ("running", 1, "", 0.0)
    assert state.fail_expired_jobs("lapsed") == ["old"], "a job from before leases counts as lapsed"
    new = state.create_job(tenant="acme", collection="kb", key_id="k")
    assert state.claim_job(new.id, owner="r1", lease_s=30) is not None


class StateContract:
    """Behaviour shared by every :class:`StateStore` backend."""

    @pytest.fixture
    def state(self, make_state: MakeState) -> StateStore:
        return make_state()

    def stored_key_bytes(self, state: StateStore) -> bytes:
        """Everything the backend persisted about API keys, as raw bytes."""
        raise NotImplementedError

    # -- keys ------------------------------------------------------------------------------------

    def test_is_a_state_store(self, state: StateStore) -> None:
        assert isinstance(state, StateStore)

    def test_create_key_returns_record_and_secret(self, state: StateStore) -> None:
        before = time.time()
        key, secret = state.create_key(name="ci", tenant="acme", groups=["eng", "ops"], role="reader")
        assert isinstance(key, ApiKey)
        assert re.fullmatch(r"[0-9a-f]{12}", key.id)
        assert re.fullmatch(rf"rl_{key.id}_[A-Za-z0-9_-]{{43}}", secret)
        assert (key.name, key.tenant, key.groups, key.role, key.clearance) == (
            "ci",
            "acme",
            ("eng", "ops"),
            "reader",
            0,
        )
        assert before <= key.created_at <= time.time()
        assert key.revoked_at is None and not key.revoked
        assert state.get_key(key.id) == key
        assert state.authenticate(secret) == key

    def test_secrets_are_unique(self, state: StateStore) -> None:
        made = [state.create_key(name="", tenant="acme", groups=[], role="reader") for _ in range(20)]
        assert len({k.id for k, _ in made}) == 20
        assert len({s for _, s in made}) == 20
        for key, secret in made:
            assert state.authenticate(secret) == key

    def test_only_the_hash_of_the_secret_is_stored(self, state: StateStore) -> None:
        key, secret = state.create_key(name="ci", tenant="acme", groups=["eng"], role="admin")
        random_part = secret.split("_", 2)[2]
        data = self.stored_key_bytes(state)
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in data, "looked in the wrong place"
        assert key.id.encode() in data
        assert secret.encode() not in data
        assert random_part.encode() not in data

    def test_groups_are_deduplicated_in_order(self, state: StateStore) -> None:
        key, _ = state.create_key(name="", tenant="acme", groups=["b", "a", "b"], role="reader")
        assert key.groups == ("b", "a")
        assert state.get_key(key.id) == key

    @pytest.mark.parametrize(
        "tenant", ["", "under_score", "-lead", ".lead", "a" * 65, "sp ace", "ünï", "acme\n", "a/b"]
    )
    def test_bad_tenant_is_refused(self, state: StateStore, tenant: str) -> None:
        with pytest.raises(ConfigError, match="tenant") as err:
            state.create_key(name="", tenant=tenant, groups=[], role="reader")
        assert repr(tenant) in str(err.value)
        assert "letters, digits" in str(err.value)

    def test_longest_allowed_names_are_accepted(self, state: StateStore) -> None:
        key, _ = state.create_key(name="x" * 200, tenant="a" * 64, groups=["A1.b-c"], role="reader")
        assert key.tenant == "a" * 64

    @pytest.mark.parametrize("groups", [["ok", "bad_group"], [""], ["x" * 65]])
    def test_bad_group_is_refused(self, state: StateStore, groups: list[str]) -> None:
        with pytest.raises(ConfigError, match="group"):
            state.create_key(name="", tenant="acme", groups=groups, role="reader")
        assert state.list_keys() == []

    def test_groups_as_a_string_is_refused(self, state: StateStore) -> None:
        with pytest.raises(ConfigError, match="list of group names"):
            state.create_key(name="", tenant="acme", groups="eng", role="reader")

    def test_bad_role_is_refused(self, state: StateStore) -> None:
        with pytest.raises(ConfigError, match=r"'owner'.*admin, reader"):
            state.create_key(name="", tenant="acme", groups=[], role="owner")  # type: ignore[arg-type]

    @pytest.mark.parametrize("clearance", [-1, 101, True])
    def test_bad_clearance_is_refused(self, state: StateStore, clearance: int) -> None:
        with pytest.raises(ConfigError, match="0 to 100"):
            state.create_key(name="", tenant="acme", groups=[], role="reader", clearance=clearance)

    def test_clearance_bounds_are_accepted(self, state: StateStore) -> None:
        assert state.create_key(name="", tenant="a", groups=[], role="admin", clearance=0)[0].clearance == 0
        assert (
            state.create_key(name="", tenant="a", groups=[], role="admin", clearance=100)[0].clearance == 100
        )

    def test_too_long_name_is_refused(self, state: StateStore) -> None:
        with pytest.raises(ConfigError, match="at most 200"):
            state.create_key(name="x" * 201, tenant="acme", groups=[], role="reader")

    def test_list_keys_oldest_first_and_by_tenant(self, state: StateStore) -> None:
        a, _ = state.create_key(name="a", tenant="acme", groups=[], role="admin")
        b, _ = state.create_key(name="b", tenant="other", groups=[], role="reader")
        c, _ = state.create_key(name="c", tenant="acme", groups=[], role="reader")
        assert state.list_keys() == [a, b, c]
        assert state.list_keys("acme") == [a, c]
        assert state.list_keys("nobody") == []

    def test_get_unknown_key_is_none(self, state: StateStore) -> None:
        assert state.get_key("0123456789ab") is None

    def test_revoke(self, state: StateStore) -> None:
        key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        other, other_secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        assert state.count_keys() == 2
        assert state.revoke_key(key.id) is True
        assert state.authenticate(secret) is None
        assert state.authenticate(other_secret) == other
        revoked = state.get_key(key.id)
        assert revoked is not None and revoked.revoked and revoked.revoked_at is not None
        assert state.revoke_key(key.id) is False, "already revoked"
        assert state.revoke_key("ffffffffffff") is False, "unknown"
        assert state.count_keys() == 1
        assert [k.id for k in state.list_keys()] == [key.id, other.id], "revoked keys stay listed"

    def test_revoke_in_tenant(self, state: StateStore) -> None:
        key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        assert state.revoke_key(key.id, tenant="other") is False
        assert state.authenticate(secret) == key
        assert state.revoke_key(key.id, tenant="acme") is True
        assert state.authenticate(secret) is None

    def test_authenticate_rejects_garbage(self, state: StateStore) -> None:
        key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        last = secret[-1]
        tampered = secret[:-1] + ("A" if last != "A" else "B")
        other_id = ("0" if key.id[0] != "0" else "1") + key.id[1:]
        garbage = [
            "",
            "rl_",
            "rl__",
            "Bearer " + secret,
            secret + "x",
            secret + "\n",
            secret[:-1],
            " " + secret,
            secret.upper(),
            tampered,
            secret.replace(key.id, other_id),
            "rl_" + key.id + "_" + "A" * 43,
            "x" * 10_000,
            "rl_" + "g" * 12 + "_" + "A" * 43,
            "rl_ünïcode",
            "\x00" * 60,
            "' OR 1=1 --",
        ]
        for g in garbage:
            assert state.authenticate(g) is None, g
        assert state.authenticate(None) is None  # type: ignore[arg-type]
        assert state.authenticate(secret) == key

    def test_keys_survive_reopening(self, make_state: MakeState) -> None:
        first = make_state()
        key, secret = first.create_key(name="", tenant="acme", groups=["g"], role="admin", clearance=7)
        first.close()
        second = make_state()
        assert second.authenticate(secret) == key
        assert second.list_keys() == [key]

    def test_close_then_use_reconnects(self, state: StateStore) -> None:
        key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        state.close()
        state.close()
        assert state.authenticate(secret) == key

    # -- jobs ------------------------------------------------------------------------------------

    def test_job_lifecycle(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k1", total=3)
        assert isinstance(job, Job)
        assert re.fullmatch(r"[0-9a-f]{32}", job.id)
        assert (job.status, job.total, job.done, job.chunks, job.errors, job.message) == (
            "queued",
            3,
            0,
            0,
            (),
            "",
        )
        assert job.created_at == job.updated_at
        assert state.get_job(job.id) == job

        running = state.update_job(job.id, status="running", message="reading files")
        assert running.status == "running" and running.message == "reading files"
        assert running.total == 3 and running.updated_at >= job.updated_at
        assert running.created_at == job.created_at

        a = state.update_job(job.id, done=1, chunks=10, add_errors=[JobError("a.pdf", "encrypted")])
        b = state.update_job(job.id, done=2, add_errors=[JobError("b.docx", "corrupt"), JobError("c", "x")])
        assert a.errors == (JobError("a.pdf", "encrypted"),)
        assert b.errors == (JobError("a.pdf", "encrypted"), JobError("b.docx", "corrupt"), JobError("c", "x"))
        assert b.chunks == 10 and b.done == 2 and b.message == "reading files"

        done = state.update_job(job.id, status="done", done=3, chunks=25, total=3, message="")
        assert state.get_job(job.id) == done
        assert (done.status, done.done, done.chunks, done.message, len(done.errors)) == ("done", 3, 25, "", 3)

    def test_update_unknown_job_raises_not_found(self, state: StateStore) -> None:
        with pytest.raises(StateNotFound, match="nope"):
            state.update_job("nope", status="done")

    def test_bad_job_updates_are_refused(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k1")
        with pytest.raises(ConfigError, match="'paused'"):
            state.update_job(job.id, status="paused")  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="done"):
            state.update_job(job.id, done=-1)
        with pytest.raises(ConfigError, match="total"):
            state.create_job(tenant="acme", collection="kb", key_id="k1", total=-5)
        assert state.get_job(job.id) == job

    def test_get_unknown_job_is_none(self, state: StateStore) -> None:
        assert state.get_job(uuid.uuid4().hex) is None

    def test_list_jobs_newest_first_by_tenant_with_limit(self, state: StateStore) -> None:
        jobs = [state.create_job(tenant="acme", collection=f"c{i}", key_id="k") for i in range(5)]
        state.create_job(tenant="other", collection="x", key_id="k")
        assert state.list_jobs(tenant="acme") == list(reversed(jobs))
        assert state.list_jobs(tenant="acme", limit=2) == [jobs[4], jobs[3]]
        assert state.list_jobs(tenant="nobody") == []
        with pytest.raises(ConfigError, match="limit"):
            state.list_jobs(tenant="acme", limit=0)

    def test_a_new_job_is_held_for_a_grace_period_until_claimed(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k")
        assert job.owner == "" and job.lease_until > job.created_at
        assert state.fail_expired_jobs("lapsed") == [], "not swept before its submitter claims it"
        assert state.fail_expired_jobs("lapsed", now=job.lease_until + 1) == [job.id]

    def test_job_lease_claim_renew_and_expiry(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k")
        before = time.time()
        claimed = state.claim_job(job.id, owner="replica-1", lease_s=30)
        assert claimed is not None and claimed.owner == "replica-1"
        assert before + 30 <= claimed.lease_until <= time.time() + 30
        assert state.get_job(job.id) == claimed
        # Held by a live replica: another may not take it, nor sweep it.
        assert state.claim_job(job.id, owner="replica-2", lease_s=30) is None
        assert state.fail_expired_jobs("lapsed") == []
        assert state.get_job(job.id) == claimed
        # Renewal moves the expiry on, for the holder only.
        assert state.renew_job_leases("replica-2", [job.id], lease_s=60) == []
        assert state.renew_job_leases("replica-1", [job.id, "unknown-id"], lease_s=60) == [job.id]
        renewed = state.get_job(job.id)
        assert renewed is not None and renewed.lease_until >= claimed.lease_until + 29
        assert renewed.status == "queued", "a renewal changes nothing but the lease"
        running = state.update_job(job.id, status="running")
        assert (running.owner, running.lease_until) == ("replica-1", renewed.lease_until)
        # Not renewed past its expiry: the holder died. Any replica may now fail it.
        later = renewed.lease_until + 1
        assert state.fail_expired_jobs("the replica died; upload the files again", now=later) == [job.id]
        failed = state.get_job(job.id)
        assert failed is not None
        assert (failed.status, failed.message) == ("failed", "the replica died; upload the files again")
        assert state.renew_job_leases("replica-1", [job.id], lease_s=60) == [], "the lease is lost"
        assert state.claim_job(job.id, owner="replica-1", lease_s=60) is None, "finished jobs stay so"

    def test_an_expired_lease_may_be_claimed_by_another_replica(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k")
        assert state.claim_job(job.id, owner="replica-1", lease_s=0.001) is not None
        time.sleep(0.01)
        taken = state.claim_job(job.id, owner="replica-2", lease_s=30)
        assert taken is not None and taken.owner == "replica-2"
        assert state.renew_job_leases("replica-1", [job.id], lease_s=30) == []

    def test_only_unfinished_jobs_with_lapsed_leases_are_recovered(self, state: StateStore) -> None:
        jobs = {n: state.create_job(tenant="acme", collection="kb", key_id="k") for n in range(5)}
        for n, job in jobs.items():
            assert state.claim_job(job.id, owner=f"r{n}", lease_s=10 if n == 4 else 1) is not None
        state.update_job(jobs[1].id, status="running")
        done = state.update_job(jobs[2].id, status="done", message="ok")
        failed = state.update_job(jobs[3].id, status="failed", message="disk full")
        now = time.time() + 5
        assert sorted(state.fail_expired_jobs("lapsed", now=now)) == sorted([jobs[0].id, jobs[1].id])
        assert state.get_job(done.id) == done
        assert state.get_job(failed.id) == failed
        live = state.get_job(jobs[4].id)
        assert live is not None and live.status == "queued"
        assert state.fail_expired_jobs("again", now=now) == []

    def test_bad_leases_are_refused(self, state: StateStore) -> None:
        job = state.create_job(tenant="acme", collection="kb", key_id="k")
        for bad in (0, -1.0, float("nan"), float("inf")):
            with pytest.raises(ConfigError, match="lease"):
                state.claim_job(job.id, owner="r", lease_s=bad)
            with pytest.raises(ConfigError, match="lease"):
                state.renew_job_leases("r", [job.id], lease_s=bad)
        with pytest.raises(ConfigError, match="owner"):
            state.claim_job(job.id, owner="", lease_s=10)
        assert state.renew_job_leases("r", [], lease_s=10) == []
        with pytest.raises(StateNotFound, match="no-such-job"):
            state.claim_job("no-such-job", owner="r", lease_s=10)

    def test_ping(self, state: StateStore) -> None:
        state.ping()
        state.close()
        state.ping()

    # -- conversations ---------------------------------------------------------------------------

    def test_conversation_round_trip(self, state: StateStore) -> None:
        conv = state.create_conversation(tenant="acme", key_id="k1", collection="kb")
        assert re.fullmatch(r"[0-9a-f]{32}", conv.id) and conv.turns == ()
        turns = [
            ConversationTurn("user", "How do I install it on Linux?"),
            ConversationTurn("assistant", "Run apt install ragline [1].", trace_id="t1"),
        ]
        after = state.append_turns(conv.id, turns, tenant="acme", key_id="k1")
        assert [(t.role, t.content, t.trace_id) for t in after.turns] == [
            ("user", "How do I install it on Linux?", ""),
            ("assistant", "Run apt install ragline [1].", "t1"),
        ]
        assert all(t.at >= conv.created_at for t in after.turns)
        assert state.get_conversation(conv.id, tenant="acme", key_id="k1") == after
        state.append_turns(conv.id, [ConversationTurn("user", "And on Windows?")], tenant="acme", key_id="k1")
        got = state.get_conversation(conv.id, tenant="acme", key_id="k1")
        assert got is not None and [t.content for t in got.turns][-1] == "And on Windows?"
        assert got.collection == "kb" and got.updated_at >= after.updated_at

    def test_a_conversation_is_its_owners_only(self, state: StateStore) -> None:
        conv = state.create_conversation(tenant="acme", key_id="k1", collection="kb")
        state.append_turns(conv.id, [ConversationTurn("user", "secret plans")], tenant="acme", key_id="k1")
        # Another key of the same tenant, or the same key id under another tenant, sees nothing.
        for tenant, key in (("acme", "k2"), ("globex", "k1")):
            assert state.get_conversation(conv.id, tenant=tenant, key_id=key) is None
            with pytest.raises(StateNotFound, match="no conversation"):
                state.append_turns(conv.id, [ConversationTurn("user", "x")], tenant=tenant, key_id=key)
            assert state.delete_conversation(conv.id, tenant=tenant, key_id=key) is False
        kept = state.get_conversation(conv.id, tenant="acme", key_id="k1")
        assert kept is not None and [t.content for t in kept.turns] == ["secret plans"]
        assert state.delete_conversation(conv.id, tenant="acme", key_id="k1") is True
        assert state.get_conversation(conv.id, tenant="acme", key_id="k1") is None

    def test_a_conversation_keeps_its_newest_turns(self, state: StateStore) -> None:
        conv = state.create_conversation(tenant="acme", key_id="k1", collection="kb")
        turns = [ConversationTurn("user", f"q{i}") for i in range(MAX_CONVERSATION_TURNS + 5)]
        after = state.append_turns(conv.id, turns, tenant="acme", key_id="k1")
        assert len(after.turns) == MAX_CONVERSATION_TURNS
        assert after.turns[0].content == "q5" and after.turns[-1].content == f"q{MAX_CONVERSATION_TURNS + 4}"

    def test_bad_conversation_turns_are_refused(self, state: StateStore) -> None:
        conv = state.create_conversation(tenant="acme", key_id="k1", collection="kb")
        with pytest.raises(ConfigError, match="'system'"):
            state.append_turns(
                conv.id,
                [ConversationTurn("system", "x")],
                tenant="acme",
                key_id="k1",  # type: ignore[arg-type]
            )
        with pytest.raises(ConfigError, match="limit"):
            state.append_turns(conv.id, [ConversationTurn("user", "x" * 100_001)], tenant="acme", key_id="k1")
        with pytest.raises(ConfigError, match="tenant"):
            state.create_conversation(tenant="a/b", key_id="k1", collection="kb")
        got = state.get_conversation(conv.id, tenant="acme", key_id="k1")
        assert got is not None and got.turns == ()

    def test_conversation_retention_by_age(self, make_state: MakeState) -> None:
        state = make_state(conversation_retention_days=30)
        now = time.time()
        idle = state.create_conversation(tenant="acme", key_id="k1", collection="kb", now=now - 31 * DAY)
        used = state.create_conversation(tenant="acme", key_id="k1", collection="kb", now=now - 29 * DAY)
        state.append_turns(used.id, [ConversationTurn("user", "still here")], tenant="acme", key_id="k1")
        # Expired conversations are gone for readers before any prune runs.
        assert state.get_conversation(idle.id, tenant="acme", key_id="k1") is None
        with pytest.raises(StateNotFound):
            state.append_turns(idle.id, [ConversationTurn("user", "x")], tenant="acme", key_id="k1")
        assert state.prune_conversations() == 1
        assert state.get_conversation(used.id, tenant="acme", key_id="k1") is not None
        assert state.prune_conversations() == 0

    def test_conversation_retention_by_count(self, make_state: MakeState) -> None:
        state = make_state(conversation_retention=3)
        now = time.time()
        ids = [
            state.create_conversation(tenant="acme", key_id="k1", collection="kb", now=now - 100 + i).id
            for i in range(5)
        ]
        # The least recently used go first: touching the oldest keeps it.
        state.append_turns(ids[2], [ConversationTurn("user", "x")], tenant="acme", key_id="k1", now=now)
        state.create_conversation(tenant="acme", key_id="k1", collection="kb", now=now + 1)
        alive = [i for i in ids if state.get_conversation(i, tenant="acme", key_id="k1") is not None]
        assert alive == [ids[2], ids[4]]

    def test_bad_conversation_retention_is_refused(self, make_state: MakeState) -> None:
        with pytest.raises(ConfigError, match="conversation_retention"):
            make_state(conversation_retention=-1)
        with pytest.raises(ConfigError, match="conversation_retention_days"):
            make_state(conversation_retention_days=0)

    # -- traces ----------------------------------------------------------------------------------

    def test_trace_round_trip(self, state: StateStore) -> None:
        trace = _trace("t1")
        state.put_trace(trace)
        assert state.get_trace("t1") == trace
        assert state.get_trace("missing") is None

    def test_duplicate_trace_id_raises_state_error(self, state: StateStore) -> None:
        state.put_trace(_trace("t1"))
        with pytest.raises(StateError, match="t1"):
            state.put_trace(_trace("t1"))
        assert state.get_trace("t1") is not None
        state.put_trace(_trace("t2"))

    def test_trace_retention_by_count(self, make_state: MakeState) -> None:
        state = make_state(trace_retention=5)
        now = time.time()
        ids = [f"t{i:02d}" for i in range(12)]
        for i, trace_id in enumerate(ids):
            state.put_trace(_trace(trace_id, created_at=now - 100 + i))
        assert [t for t in ids if state.get_trace(t) is not None] == ids[-5:]

    def test_count_retention_keeps_the_newest_by_time(self, make_state: MakeState) -> None:
        state = make_state(trace_retention=2)
        now = time.time()
        state.put_trace(_trace("new", created_at=now))
        state.put_trace(_trace("newer", created_at=now + 1))
        state.put_trace(_trace("backfilled-old", created_at=now - 50))
        assert state.get_trace("backfilled-old") is None
        assert state.get_trace("new") is not None and state.get_trace("newer") is not None

    def test_trace_retention_by_age(self, make_state: MakeState) -> None:
        state = make_state(trace_retention_days=30)
        now = time.time()
        state.put_trace(_trace("ancient", created_at=now - 31 * DAY))
        state.put_trace(_trace("old-but-kept", created_at=now - 29 * DAY))
        state.put_trace(_trace("fresh"))
        assert state.prune_traces() == 1
        assert state.get_trace("ancient") is None
        assert state.get_trace("old-but-kept") is not None
        assert state.get_trace("fresh") is not None
        assert state.prune_traces() == 0

    def test_puts_prune_by_age_periodically(self, make_state: MakeState) -> None:
        state = make_state(trace_retention_days=1)
        state.put_trace(_trace("ancient", created_at=time.time() - 2 * DAY))
        for _ in range(PRUNE_EVERY - 2):
            state.put_trace(_trace())
        assert state.get_trace("ancient") is not None, "pruned before the period was up"
        state.put_trace(_trace())
        assert state.get_trace("ancient") is None

    def test_zero_retention_keeps_no_traces(self, make_state: MakeState) -> None:
        state = make_state(trace_retention=0)
        state.put_trace(_trace("t1"))
        assert state.get_trace("t1") is None

    def test_count_retention_holds_after_reopening(self, make_state: MakeState) -> None:
        first = make_state(trace_retention=3)
        for i in range(3):
            first.put_trace(_trace(f"a{i}", created_at=1e9 + i + time.time()))
        first.close()
        second = make_state(trace_retention=3)
        second.put_trace(_trace("b", created_at=2e9 + time.time()))
        assert second.get_trace("a0") is None
        assert all(second.get_trace(t) is not None for t in ("a1", "a2", "b"))

    def test_trace_variant_round_trip(self, state: StateStore) -> None:
        trace = dataclasses.replace(_trace("t1"), variant="rerank=treatment,topk=control")
        state.put_trace(trace)
        assert state.get_trace("t1") == trace
        assert in_experiment(trace.variant, "topk") == "control"
        assert in_experiment(trace.variant, "rerank") == "treatment"
        assert in_experiment(trace.variant, "rer") is None

    def test_rated_traces_count_feedback_and_filter(self, state: StateStore) -> None:
        now = time.time()
        state.put_trace(dataclasses.replace(_trace("a", created_at=now - 10), variant="exp=control"))
        state.put_trace(dataclasses.replace(_trace("b", created_at=now - 5), variant="exp2=treatment"))
        state.put_trace(dataclasses.replace(_trace("c", created_at=now - 1), collection="other"))
        state.put_trace(_trace("x", tenant="globex", created_at=now))
        state.add_feedback(trace_id="a", tenant="acme", key_id="k1", rating=1)
        state.add_feedback(trace_id="a", tenant="acme", key_id="k2", rating=1)
        state.add_feedback(trace_id="b", tenant="acme", key_id="k1", rating=-1)
        # A rating filed under another tenant never counts for this tenant's trace.
        state.add_feedback(trace_id="a", tenant="globex", key_id="k9", rating=-1)
        rows = state.rated_traces(tenant="acme")
        assert [(r.trace.id, r.up, r.down) for r in rows] == [("c", 0, 0), ("b", 0, 1), ("a", 2, 0)]
        assert [r.trace.id for r in state.rated_traces(tenant=None)] == ["x", "c", "b", "a"]
        assert [r.trace.id for r in state.rated_traces(tenant="acme", collection="kb")] == ["b", "a"]
        assert [r.trace.id for r in state.rated_traces(tenant="acme", experiment="exp")] == ["a"]
        assert [r.trace.id for r in state.rated_traces(tenant="acme", since=now - 6)] == ["c", "b"]
        assert [r.trace.id for r in state.rated_traces(tenant="acme", limit=1)] == ["c"]
        with pytest.raises(ConfigError, match="limit"):
            state.rated_traces(tenant="acme", limit=0)

    # -- feedback --------------------------------------------------------------------------------

    def test_feedback_round_trip_newest_first(self, state: StateStore) -> None:
        up = state.add_feedback(trace_id="t1", tenant="acme", key_id="k1", rating=1)
        down = state.add_feedback(trace_id="t2", tenant="acme", key_id="k1", rating=-1, comment="wrong year")
        state.add_feedback(trace_id="t3", tenant="other", key_id="k2", rating=1)
        assert isinstance(up, Feedback)
        assert (up.rating, up.comment, down.rating, down.comment) == (1, "", -1, "wrong year")
        assert state.list_feedback(tenant="acme") == [down, up]
        assert state.list_feedback(tenant="acme", limit=1) == [down]
        assert state.list_feedback(tenant="nobody") == []

    @pytest.mark.parametrize("rating", [0, 2, -2, 5, True])
    def test_bad_rating_is_refused(self, state: StateStore, rating: int) -> None:
        with pytest.raises(ConfigError, match="rating"):
            state.add_feedback(trace_id="t1", tenant="acme", key_id="k1", rating=rating)

    def test_comment_length_limit(self, state: StateStore) -> None:
        ok = state.add_feedback(trace_id="t1", tenant="acme", key_id="k", rating=1, comment="é" * 4000)
        assert state.list_feedback(tenant="acme") == [ok]
        with pytest.raises(ConfigError, match="4000"):
            state.add_feedback(trace_id="t1", tenant="acme", key_id="k", rating=1, comment="x" * 4001)
        with pytest.raises(ConfigError, match="trace_id"):
            state.add_feedback(trace_id="", tenant="acme", key_id="k", rating=1)

    # -- audit -----------------------------------------------------------------------------------

    def test_audit_append_and_list(self, state: StateStore) -> None:
        before = time.time()
        e1 = state.append_audit(tenant="acme", key_id="k1", action="ingest", collection="kb", doc_ids=["d1"])
        e2 = state.append_audit(tenant="acme", key_id="k1", action="delete", doc_ids=["d1", "d2"], detail="x")
        e3 = state.append_audit(tenant="other", key_id="k2", action="ingest")
        assert isinstance(e1, AuditEvent)
        assert e1.seq < e2.seq < e3.seq
        assert before <= e1.at <= e2.at <= e3.at <= time.time()
        assert e2.doc_ids == ("d1", "d2") and e2.detail == "x" and e2.collection == ""
        assert state.list_audit() == [e1, e2, e3]
        assert state.list_audit(tenant="acme") == [e1, e2]
        assert state.list_audit(action="ingest") == [e1, e3]
        assert state.list_audit(tenant="acme", action="ingest") == [e1]
        assert state.list_audit(after_seq=e1.seq) == [e2, e3]
        assert state.list_audit(limit=2) == [e1, e2]
        assert state.list_audit(after_seq=e3.seq) == []

    def test_audit_bad_input(self, state: StateStore) -> None:
        with pytest.raises(ConfigError, match="action"):
            state.append_audit(tenant="acme", key_id="k", action="")
        with pytest.raises(ConfigError, match="doc_ids"):
            state.append_audit(tenant="acme", key_id="k", action="delete", doc_ids="d1")
        with pytest.raises(ConfigError, match="limit"):
            state.list_audit(limit=-1)
        assert state.list_audit() == []

    def test_audit_log_is_append_only_in_the_database(self, state: StateStore) -> None:
        event = state.append_audit(tenant="acme", key_id="k1", action="ingest", detail="original")
        raw = state._execute  # type: ignore[attr-defined]  # the backend's own connection
        with pytest.raises(StateError, match="append-only"):
            raw("UPDATE audit_log SET detail = 'forged'")
        with pytest.raises(StateError, match="append-only"):
            raw("DELETE FROM audit_log")
        with pytest.raises(StateError, match="append-only"):
            raw("DELETE FROM audit_log WHERE seq = ?", [event.seq])
        assert state.list_audit() == [event]
        later = state.append_audit(tenant="acme", key_id="k1", action="ingest")
        assert later.seq > event.seq

    def test_audit_seq_keeps_increasing_across_reopen(self, make_state: MakeState) -> None:
        first = make_state()
        a = first.append_audit(tenant="acme", key_id="k", action="x")
        first.close()
        b = make_state().append_audit(tenant="acme", key_id="k", action="x")
        assert b.seq > a.seq

    # -- concurrency -----------------------------------------------------------------------------

    def test_concurrent_audit_appends(self, state: StateStore) -> None:
        start = threading.Barrier(8)

        def worker(n: int) -> list[int]:
            start.wait()
            return [state.append_audit(tenant="acme", key_id=f"k{n}", action="a").seq for _ in range(50)]

        with ThreadPoolExecutor(8) as pool:
            seqs = [s for batch in pool.map(worker, range(8)) for s in batch]
        assert len(set(seqs)) == 400
        listed = state.list_audit(limit=1000)
        assert [e.seq for e in listed] == sorted(seqs)

    def test_concurrent_mixed_use(self, state: StateStore) -> None:
        key, secret = state.create_key(name="", tenant="acme", groups=[], role="reader")
        job = state.create_job(tenant="acme", collection="kb", key_id=key.id)
        start = threading.Barrier(6)

        def worker(n: int) -> None:
            start.wait()
            for i in range(20):
                assert state.authenticate(secret) == key
                state.update_job(job.id, add_errors=[JobError(f"f{n}-{i}", "bad")])
                state.put_trace(_trace(f"t{n}-{i}"))
                state.create_key(name=f"{n}", tenant="acme", groups=[], role="reader")

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(worker, range(6)))
        final = state.get_job(job.id)
        assert final is not None and len(final.errors) == 120, "no lost read-modify-write update"
        assert state.count_keys() == 121
        assert state.get_trace("t5-19") is not None

    # -- usage ---------------------------------------------------------------------------------------

    def test_usage_adds_up_per_key_and_day(self, state: StateStore) -> None:
        day1, day2 = 1_700_000_000.0, 1_700_000_000.0 + DAY
        state.record_usage(
            tenant="acme", key_id="k1", prompt_tokens=10, completion_tokens=5, cost_usd=0.5, at=day1
        )
        state.record_usage(
            tenant="acme", key_id="k1", prompt_tokens=1, completion_tokens=2, cost_usd=0.25, at=day1
        )
        state.record_usage(tenant="acme", key_id="k2", at=day1)
        state.record_usage(tenant="acme", key_id="k1", requests=3, at=day2)
        state.record_usage(tenant="globex", key_id="g1", prompt_tokens=7, at=day2)
        rows = state.list_usage(tenant="acme")
        assert rows == [
            Usage("acme", "k1", "2023-11-14", 2, 11, 7, 0.75),
            Usage("acme", "k2", "2023-11-14", 1, 0, 0, 0.0),
            Usage("acme", "k1", "2023-11-15", 3, 0, 0, 0.0),
        ]
        assert state.list_usage(tenant="acme", key_id="k1", since_day="2023-11-15") == [
            Usage("acme", "k1", "2023-11-15", 3, 0, 0, 0.0)
        ]
        assert {u.tenant for u in state.list_usage()} == {"acme", "globex"}
        assert state.list_usage(tenant="nobody") == []

    def test_usage_bad_input_is_refused(self, state: StateStore) -> None:
        with pytest.raises(ConfigError, match="prompt_tokens"):
            state.record_usage(tenant="acme", key_id="k1", prompt_tokens=-1)
        with pytest.raises(ConfigError, match="cost_usd"):
            state.record_usage(tenant="acme", key_id="k1", cost_usd=float("nan"))
        with pytest.raises(ConfigError, match="tenant"):
            state.record_usage(tenant="bad tenant", key_id="k1")
        with pytest.raises(ConfigError, match="since_day"):
            state.list_usage(since_day="yesterday")

    def test_concurrent_usage_counts_are_not_lost(self, state: StateStore) -> None:
        def hit(_: int) -> None:
            state.record_usage(tenant="acme", key_id="k1", prompt_tokens=2, completion_tokens=1, cost_usd=0.5)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(hit, range(40)))
        (row,) = state.list_usage(tenant="acme")
        assert (row.requests, row.prompt_tokens, row.completion_tokens, row.cost_usd) == (40, 80, 40, 20.0)
