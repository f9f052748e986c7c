"""`tempen dlq list|replay`: look at dead letters and move fixed ones back into processing."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from tempen_shared import correlation
from tempen_shared.events import DeadLetter
from tempen_shared.topics import TOPICS

REPLAY_GROUP = "tempen-dlq-replay"


def _bootstrap(args: argparse.Namespace) -> str:
    return str(args.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))


def _dlq_topics(args: argparse.Namespace) -> list[str]:
    prefix = os.environ.get("TEMPEN_TOPIC_PREFIX", "")
    if args.topic:
        name = args.topic if args.topic.endswith(".dlq") else f"{args.topic}.dlq"
        return [name if name.startswith(prefix) else f"{prefix}{name}"]
    return [f"{prefix}{t.dead_letters}" for t in TOPICS]


async def read_dead_letters(bootstrap: str, topic: str, *, limit: int) -> list[tuple[int, DeadLetter | None, bytes]]:
    """Every record of one DLQ topic from the start (up to `limit`), parsed where possible."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[int, DeadLetter | None, bytes]] = []

        async def unread() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while len(out) < limit and await unread():
            batch = await consumer.getmany(timeout_ms=1000, max_records=min(500, limit - len(out)))
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    try:
                        letter: DeadLetter | None = DeadLetter.model_validate_json(record.value)
                    except ValidationError:
                        letter = None
                    out.append((record.offset, letter, record.value))
        return out
    finally:
        await consumer.stop()


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    total = 0
    for topic in _dlq_topics(args):
        letters = asyncio.run(read_dead_letters(_bootstrap(args), topic, limit=args.limit))
        if not letters:
            continue
        table = Table(title=f"{topic}: {len(letters)} dead letter(s)")
        for column in ("offset", "reason", "detail", "source", "consumer", "when", "correlation id"):
            table.add_column(column)
        for offset, letter, _raw in letters:
            if letter is None:
                table.add_row(str(offset), "[red]unreadable[/red]", "", "", "", "", "")
                continue
            table.add_row(
                str(offset),
                letter.reason,
                letter.detail[:120],
                f"{letter.source_topic}[{letter.partition}]@{letter.offset}",
                letter.consumer,
                letter.dead_lettered_at.isoformat(timespec="seconds"),
                letter.correlation_id or "",
            )
        console.print(table)
        total += len(letters)
    if total == 0:
        console.print("No dead letters.")
    return 0


async def replay(bootstrap: str, topic: str, *, offset: int | None) -> tuple[int, int]:
    """Publish dead letters' original records back to their source topics. Returns (replayed, skipped).

    With `offset`, exactly that dead letter; without, every one not yet replayed (tracked by the
    consumer group `tempen-dlq-replay`, committed after each publish). Replaying twice is harmless:
    every consumer deduplicates.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    replayed = skipped = 0
    try:
        if offset is not None:
            letters = [item for item in await read_dead_letters(bootstrap, topic, limit=1_000_000) if item[0] == offset]
            if not letters:
                raise LookupError(f"no dead letter at offset {offset} in {topic}")
            for _offset, letter, _raw in letters:
                ok = await _republish(producer, letter)
                replayed, skipped = replayed + ok, skipped + (not ok)
            return replayed, skipped
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=os.environ.get("TEMPEN_TOPIC_PREFIX", "") + REPLAY_GROUP,  # as the services' groups are
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=2000, max_records=500)
                if not batch:
                    break
                for records in batch.values():
                    for record in records:
                        try:
                            letter = DeadLetter.model_validate_json(record.value)
                        except ValidationError:
                            skipped += 1
                            continue
                        ok = await _republish(producer, letter)
                        replayed, skipped = replayed + ok, skipped + (not ok)
                await consumer.commit()
        finally:
            await consumer.stop()
        return replayed, skipped
    finally:
        await producer.stop()


async def _republish(producer: AIOKafkaProducer, letter: DeadLetter | None) -> bool:
    if letter is None or letter.partition < 0:
        return False  # not a Kafka record (e.g. a failed notification): nothing to put back on a topic
    await producer.send_and_wait(
        letter.source_topic,
        value=letter.value.encode(),
        key=letter.key.encode() if letter.key is not None else None,
        headers=replay_headers(letter),
    )
    return True


def replay_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """Where the record comes back from, and its original correlation id: a replayed submission is
    traced under the same id as its first attempt."""
    headers = [("replayed_from", f"{letter.source_topic}.dlq".encode())]
    if letter.correlation_id:
        headers.append((correlation.HEADER, letter.correlation_id.encode()))
    return headers


def cmd_replay(args: argparse.Namespace) -> int:
    if args.offset is None and not args.all:
        print("say which: --offset N (one dead letter) or --all (every one not yet replayed)")
        return 2
    topics = _dlq_topics(args)
    if len(topics) != 1:
        print("name the topic: --topic tempen.submissions (its .dlq is replayed)")
        return 2
    try:
        replayed, skipped = asyncio.run(replay(_bootstrap(args), topics[0], offset=args.offset))
    except LookupError as exc:
        print(exc)
        return 1
    print(f"replayed {replayed} record(s) from {topics[0]}" + (f", skipped {skipped}" if skipped else ""))
    return 0


def register(subparsers: Any) -> None:
    dlq = subparsers.add_parser("dlq", help="list dead letters and replay fixed ones")
    commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--topic", help="a topic (e.g. tempen.submissions) or its .dlq; default: all")
    common.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)"
    )
    listing = commands.add_parser("list", parents=[common], help="show dead letters with their reasons")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(handler=cmd_list)
    again = commands.add_parser("replay", parents=[common], help="publish dead letters back to their source topic")
    again.add_argument("--offset", type=int, help="replay the dead letter at this offset")
    again.add_argument("--all", action="store_true", help="replay every dead letter not yet replayed")
    again.set_defaults(handler=cmd_replay)
