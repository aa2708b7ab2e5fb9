#!/usr/bin/env python3
"""Reads a TensorBoard event file the way TensorBoard does, and checks it against metrics.csv.

Usage: read_tfevents.py EVENTS_FILE METRICS_CSV

Independent of moedil's writer: TFRecord framing (length, masked CRC-32C of the length, data,
masked CRC-32C of the data) checked with its own CRC-32C, and every record parsed by Google's
protobuf library against TensorBoard's Event and Summary schemas (event.proto, summary.proto:
the field numbers and types TensorBoard reads). Fails on a bad CRC, a record protobuf refuses,
a field TensorBoard's schema does not have, or a scalar that differs from metrics.csv.
Exits 77 (skipped) without python3-protobuf.
"""
import csv
import struct
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError:
    print("SKIPPED: python3-protobuf not installed (apt-get install python3-protobuf)")
    sys.exit(77)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def event_class():
    """tensorboard.Event with the fields moedil writes, from TensorBoard's .proto files. proto2
    syntax keeps explicit zeros, so a record re-serialises to the same bytes."""
    F = descriptor_pb2.FieldDescriptorProto
    f = descriptor_pb2.FileDescriptorProto(name="moedil_tb_event.proto", package="tensorboard",
                                           syntax="proto2")
    summary = f.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL)
    value.field.add(name="node_name", number=7, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".tensorboard.Summary.Value")
    event = f.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                    type_name=".tensorboard.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    desc = pool.FindMessageTypeByName("tensorboard.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        if pos + 12 > len(data):
            sys.exit(f"FAIL: truncated record header at byte {pos}")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked(crc32c(header)) != length_crc:
            sys.exit(f"FAIL: bad length CRC at byte {pos}")
        body = data[pos + 12:pos + 12 + length]
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if len(body) != length or masked(crc32c(body)) != body_crc:
            sys.exit(f"FAIL: bad data CRC at byte {pos}")
        yield body
        pos += 16 + length


def main():
    events_path, metrics_path = sys.argv[1], sys.argv[2]
    Event = event_class()
    events = []
    for body in records(events_path):
        e = Event()
        e.ParseFromString(body)
        strict = Event()
        strict.CopyFrom(e)
        strict.DiscardUnknownFields()
        if strict.SerializeToString() != body:
            sys.exit(f"FAIL: a record has fields outside TensorBoard's Event schema: {body!r}")
        events.append(e)
    if not events or events[0].file_version != "brain.Event:2":
        sys.exit("FAIL: the first record is not the file_version event brain.Event:2")
    scalars = {}
    for e in events[1:]:
        if not e.HasField("summary") or e.step < 1:
            sys.exit(f"FAIL: a record after the first has no summary or a step < 1: {e}")
        for v in e.summary.value:
            scalars[(e.step, v.tag)] = v.simple_value
    checked = 0
    for row in csv.DictReader(open(metrics_path)):
        step = int(row["global_epoch"]) + 1
        expect = {f"eval/acc/{row['eval_domain_name']}": row["acc"],
                  f"eval/loss/{row['eval_domain_name']}": row["loss"],
                  "train/loss": row["train_loss"], "train/acc": row["train_acc"], "train/lr": row["lr"]}
        for tag, text in expect.items():
            if (step, tag) not in scalars:
                sys.exit(f"FAIL: no scalar {tag} at step {step}")
            want = struct.unpack("<f", struct.pack("<f", float(text)))[0]
            if scalars[(step, tag)] != want:
                sys.exit(f"FAIL: {tag} at step {step} is {scalars[(step, tag)]}, metrics.csv has {text}")
            checked += 1
    print(f"ok: {len(events)} records, {len(scalars)} scalars; {checked} checked against metrics.csv")


if __name__ == "__main__":
    main()
