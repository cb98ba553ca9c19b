"""The generic runner's batches, driven without a broker (streams.agents.runner.StageRunner.run_batch).

The recorded game's deposit, books and GB signal go through the sizing stage in one batch: the
order it sizes is sent, and sizing's state is written only once every output of the batch is
acknowledged (the crash rule, per batch), to the changelog partition of the records that wrote
it. A batch that fails, is stopped or loses its partitions before that writes nothing and is
never acked; an undecodable value is dead-lettered with its reason and the batch goes on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.codec import default_codec
from schemas.enums import Venue
from schemas.records import DeadLetter, Order
from streams.agents import runner
from streams.agents.batch import DELETED
from streams.codecs import AvroCodec, Framed
from streams.keys import market_key
from streams.topology import INBOX, Facts, stage
from streams.trading.config import TradingConfig
from streams.trading.stages import Stages
from tests.unit.trading import recorded_game as game

T = game.KICKOFF_MS + 3_600_000
PARTITION = 4


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: float = 0.0
    refcount: int = 0
    acked: bool = False

    def incref(self) -> None:
        self.refcount += 1

    def decref(self) -> int:
        self.refcount = max(self.refcount - 1, 0)
        return self.refcount

    def ack(self) -> None:
        """As Faust's: one reference fewer; the last one marks the offset committable."""
        if not self.acked and self.decref() == 0:
            self.acked = True


@dataclass
class Event:
    key: str
    value: bytes
    message: Message


class Table(dict[str, Any]):
    """A Faust table's local data and its changelog sends (`write`)."""

    def __init__(self) -> None:
        super().__init__()
        self.changelog: list[tuple[int, str, Any]] = []


async def write(tables: dict[str, Table], name: str, key: str, value: Any, partition: int) -> None:
    """The runner's write with the changelog kept in the table (runner.write hands it to the producer)."""
    table = tables[name]
    if value is DELETED:
        table.pop(key, None)
    else:
        table[key] = value
    table.changelog.append((partition, key, None if value is DELETED else value))


@dataclass
class Broker:
    """Outputs as sent, each with a delivery the test acknowledges (or fails) when it chooses."""

    sent: list[tuple[str, str, Any]] = field(default_factory=list)
    deliveries: list[asyncio.Future[None]] = field(default_factory=list)

    async def send(self, topic: str, key: str, value: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        self.deliveries.append(asyncio.get_running_loop().create_future())
        return self.deliveries[-1]

    def ack_all(self) -> None:
        for d in self.deliveries:
            if not d.done():
                d.set_result(None)


def event(topic: str, offset: int, record: Any, key: str = "paper") -> Event:
    value = default_codec().encode(record) if not isinstance(record, bytes) else record
    return Event(key, value, Message(topic, PARTITION, offset, key.encode(), value))


def sizing(broker: Broker, tops: Table | None = None) -> tuple[runner.StageRunner, Table]:
    s = stage("sizing")
    table = Table()
    declared = {runner.topic_name(t): t for t in s.inputs}
    tables = {"trading-sizing": table, "trading-tops": Table() if tops is None else tops}
    return runner.StageRunner(s, Stages(TradingConfig(accounts=("paper",))), Facts, tables, declared,
                              send=broker.send, write=write), table


def game_batch() -> list[Event]:
    inbox = runner.INBOX_TOPIC
    return [event("ledger", 0, game.deposit("paper")), event(inbox, 0, game.quote_input(game.GB, T)),
            event(inbox, 1, game.quote_input(game.DET, T)), event(inbox, 2, game.gb_signal(T + 1_000))]


async def until(cond: Any) -> None:
    for _ in range(200):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never met")


def test_state_is_written_once_per_batch_after_every_output_is_acknowledged() -> None:
    broker = Broker()
    tops = Table()
    agent, table = sizing(broker, tops)
    events = game_batch()

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(events))
        await until(lambda: any(isinstance(v, Order) for _, _, v in broker.sent))
        await asyncio.sleep(0.01)
        assert table == {} and table.changelog == [] and tops.changelog == []  # outputs sent, none acknowledged
        broker.ack_all()
        await task

    asyncio.run(go())
    orders = [(t, k, v) for t, k, v in broker.sent if isinstance(v, Order)]
    assert [(t, k) for t, k, _ in orders] == [("orders", "paper")]  # routed by the declaration
    assert [(p, k) for p, k, _ in table.changelog] == [(PARTITION, "paper")]  # one write for the whole batch
    assert game.gb_signal(T + 1_000).signal_id in table["paper"].seen  # the signal is in the state written
    assert table["paper"].tops == {}  # each market's top is its own row, written once per batch
    assert sorted(k for _, k, _ in tops.changelog) == sorted(f"paper|{market_key(Venue.KALSHI, t)}" for t in (game.GB, game.DET))
    assert [e.message.refcount for e in events] == [0, 0, 0, 0]  # acked normally


async def _refuse_an_output(broker: Broker, task: asyncio.Task[None]) -> None:
    await until(lambda: broker.deliveries)
    await asyncio.sleep(0.01)
    broker.deliveries[0].set_exception(RuntimeError("broker said no"))
    broker.ack_all()


async def _revoke_before_the_checkpoint(broker: Broker, task: asyncio.Task[None]) -> None:
    await until(lambda: any(isinstance(v, Order) for _, _, v in broker.sent))
    await runner._on_revoked(None, set())  # the rebalance lands while the batch awaits the broker
    broker.ack_all()


async def _stop_the_worker(broker: Broker, task: asyncio.Task[None]) -> None:
    await until(lambda: broker.deliveries)
    task.cancel()


@pytest.mark.parametrize(("interrupt", "raised"), [
    (_refuse_an_output, RuntimeError),  # fail-stop: the worker exits and its restart re-does the batch
    (_revoke_before_the_checkpoint, None),  # the partitions' next owner reads the batch again
    (_stop_the_worker, asyncio.CancelledError),  # a stopping worker's unfinished batch is read again
])
def test_an_interrupted_batch_writes_nothing_and_is_held_back(interrupt: Any, raised: type[BaseException] | None) -> None:
    broker = Broker()
    agent, table = sizing(broker)
    events = game_batch()

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(events))
        await interrupt(broker, task)
        await task

    if raised is None:
        asyncio.run(go())
    else:
        with pytest.raises(raised):
            asyncio.run(go())
    assert table == {} and table.changelog == []
    assert [e.message.refcount for e in events] == [1, 1, 1, 1]


def test_an_undecodable_value_is_dead_lettered_and_the_batch_goes_on() -> None:
    broker = Broker()
    agent, table = sizing(broker)
    events = game_batch()
    events.insert(1, event(runner.INBOX_TOPIC, 9, b"\x00\x00\x00\x00\x07garbage"))

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(events))
        await until(lambda: any(isinstance(v, Order) for _, _, v in broker.sent))
        broker.ack_all()
        await task

    asyncio.run(go())
    dead = [v for t, _, v in broker.sent if t == "deadletter"]
    assert len(dead) == 1 and isinstance(dead[0], DeadLetter) and dead[0].offset == 9 and "DecodeError" in dead[0].error
    assert any(isinstance(v, Order) for _, _, v in broker.sent) and "paper" in table


def test_the_inbox_is_declared_by_name_and_resolved_to_the_workers_internal_topic() -> None:
    assert runner.topic_name(INBOX) == runner.INBOX_TOPIC and runner.topic_name("ledger") == "ledger"


def test_a_stop_that_acks_the_batch_before_cancelling_it_does_not_commit_it() -> None:
    """A stopping worker closes the stream's generators first (`take_events` acks every event it yielded), then
    cancels the agent: a batch still waiting (here for its outputs' delivery; live, for the venue) must not be
    acked by that. Each message starts with the one reference its stream holds, as in Faust."""
    broker = Broker()
    agent, table = sizing(broker)
    events = game_batch()
    for e in events:
        e.message.refcount = 1

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(events))
        await until(lambda: any(isinstance(v, Order) for _, _, v in broker.sent))
        for e in events:  # the stream is closed: take_events acks what it yielded
            e.message.ack()
        task.cancel()  # then the agent is cancelled
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert not any(e.message.acked for e in events) and table.changelog == []


def test_a_long_batch_checkpoints_on_the_way() -> None:
    broker = Broker()
    tops = Table()
    agent, table = sizing(broker, tops)
    agent.checkpoint_s = 0.0  # every record's time is up: a checkpoint after each

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch(game_batch()))
        while not task.done():
            broker.ack_all()
            await asyncio.sleep(0)
        await task

    asyncio.run(go())
    # a checkpoint after each record, each writing what its record changed: the deposit and the signal the
    # account's state, the first book the risk clock (event time) and its top, the second book (same time) its top only
    assert [(p, k) for p, k, _ in table.changelog] == [(PARTITION, "paper")] * 3
    assert [k.split("|")[1] for _, k, _ in tops.changelog] == [market_key(Venue.KALSHI, t) for t in (game.GB, game.DET)]
    assert any(isinstance(v, Order) for _, _, v in broker.sent)


def test_a_fan_out_sends_on_the_bytes_it_read_not_a_new_encoding() -> None:
    """The route stage forwards each quote to the account's inbox as read: no decode-to-objects-and-encode-again hop."""
    broker = Broker()
    s = stage("trading-route-inputs")
    declared = {runner.topic_name(t): t for t in s.inputs}
    agent = runner.StageRunner(s, Stages(TradingConfig(accounts=("paper", "second"))), Facts, {}, declared,
                               send=broker.send, write=write)
    quote = game.quote_input(game.GB, T)
    ev = event("shard.inputs", 0, quote, key=quote.event_id)

    async def go() -> None:
        task = asyncio.create_task(agent.run_batch([ev]))
        await until(lambda: len(broker.deliveries) == 2)
        broker.ack_all()
        await task

    asyncio.run(go())
    assert [(t, k) for t, k, _ in broker.sent] == [(INBOX, "paper"), (INBOX, "second")]
    for _, _, value in broker.sent:
        assert value == Framed(ev.message.value)  # the bytes read, which decode to the record
        assert AvroCodec().dumps(value) == ev.message.value and default_codec().decode(value.raw) == quote


class AckingBroker(Broker):
    async def send(self, topic: str, key: str, value: Any) -> asyncio.Future[None]:
        delivery = await super().send(topic, key, value)
        delivery.set_result(None)
        return delivery


def test_one_agent_runs_the_account_stages_on_each_record_as_the_in_process_host_does() -> None:
    """sizing, execution and positions share one agent (each record fetched and decoded once, not once per stage):
    the recorded game through it, its outputs fed back as the broker would, gives the in-process host's orders, fills,
    positions and ledger record for record."""
    from streams.agents.runner import shared_readers
    from streams.topology import group
    from tests.unit.test_topology import played
    from tests.unit.trading.hosts import paper_host

    shared = shared_readers(group("trading"))
    assert [s.name for s in shared] == ["sizing", "execution", "positions"]
    declared = {runner.topic_name(t): t for s in shared for t in s.inputs}
    tables = {t.name: Table() for s in shared for t in s.tables}
    broker = AckingBroker()
    agent = runner.StageRunner(shared[0], Stages(TradingConfig(accounts=("paper",))), Facts, tables, declared,
                               send=broker.send, also=shared[1:], write=write)
    offsets: dict[str, int] = {}

    def on(topic: str, record: Any, key: str = "paper") -> Event:
        offsets[topic] = offsets.get(topic, -1) + 1
        return event(topic, offsets[topic], record, key)

    def cascade(first: list[Event]) -> None:
        """A batch, then what it wrote to the topics the agent reads, batch after batch, until nothing comes back."""
        batch = first
        while batch:
            sent = len(broker.sent)
            asyncio.run(agent.run_batch(batch))
            batch = [on(runner.topic_name(t), v, k) for t, k, v in broker.sent[sent:] if t in {*declared.values()}]

    inbox = runner.INBOX_TOPIC
    cascade([on("ledger", game.deposit("paper"))])
    cascade([on(inbox, game.quote_input(t, T)) for t in (game.GB, game.DET)])
    cascade([on(inbox, game.gb_signal(T + 1_000))])
    cascade([on(inbox, game.quote_input(game.GB, T + 1_500))])
    host = played(paper_host())
    for topic in ("orders", "fills", "positions", "ledger"):
        want = host.log[topic][1:] if topic == "ledger" else host.log[topic]  # the deposit was this test's input
        assert [v for t, _, v in broker.sent if t == topic] == want, topic
    assert host.log["fills"] and host.log["positions"]  # it traded: an order, its fill, the position and its cash


def test_discovery_waits_longer_for_a_batch_and_the_environment_still_decides() -> None:
    """A discovery batch that changes a league writes the league's whole state: it waits 250 ms to gather (every
    other group 2 ms), unless the operator says otherwise."""
    assert runner.batch_limits("discovery", {}) == (500, 0.25)
    assert runner.batch_limits("trading", {}) == (500, 0.002)
    assert runner.batch_limits("discovery", {"ARBEES_DISCOVERY_WITHIN_MS": "5"}) == (500, 0.005)
    assert runner.batch_limits("discovery", {"ARBEES_BATCH_WITHIN_MS": "20", "ARBEES_BATCH": "64"}) == (64, 0.02)


def test_an_event_time_ordered_replay_never_waits_for_a_batch_to_fill() -> None:
    """One source record's cascade at a time (streams.event_time_order): nothing more comes while a batch waits."""
    ordered = {"ARBEES_EVENT_TIME_ORDER": "1"}
    assert runner.batch_limits("discovery", ordered) == (500, 0.0)
    assert runner.batch_limits("shard", ordered) == (500, 0.0)
    assert runner.batch_limits("discovery", {**ordered, "ARBEES_DISCOVERY_WITHIN_MS": "5"}) == (500, 0.005)


class _Changelog:
    def get_topic_name(self) -> str:
        return "arbees-trading-sizing-changelog"


class _FaustTable:
    """What runner.write reads of a Faust table: its local data, its changelog topic, its value codec."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.changelog_topic = _Changelog()
        self.value_serializer = "raw"


def test_outputs_and_state_go_straight_to_the_producer_encoded_and_partitioned(monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.send and runner.write hand encoded records to the worker's producer (not through Faust's topic
    objects): the output framed Avro on its registry topic, keyed by its key; a state value with its table's codec
    on the changelog partition of the record that wrote it; a delete as a tombstone."""
    produced: list[tuple[str, bytes, bytes | None, int | None]] = []

    async def produce(topic: str, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        produced.append((topic, key, value, partition))

    monkeypatch.setattr(runner, "produce", produce)
    signal = game.gb_signal(T)
    table = _FaustTable()
    sent_before = runner.METER.totals()[1]

    async def go() -> None:
        await runner.send("signals", signal.event_id, signal)
        await runner.send("signals", signal.event_id, Framed(b"\x00as-read"))
        await runner.write({"t": table}, "t", "paper", b"state-bytes", 7)
        await runner.write({"t": table}, "t", "paper", DELETED, 7)

    asyncio.run(go())
    assert produced == [
        (runner.topic_name("signals"), signal.event_id.encode(), default_codec().encode(signal), None),
        (runner.topic_name("signals"), signal.event_id.encode(), b"\x00as-read", None),
        ("arbees-trading-sizing-changelog", b"paper", b"state-bytes", 7),
        ("arbees-trading-sizing-changelog", b"paper", None, 7),
    ]
    assert default_codec().decode(produced[0][2]) == signal
    assert table.data == {}  # written, then deleted
    assert runner.METER.totals()[1] == sent_before + 2  # the part's records out count both outputs
