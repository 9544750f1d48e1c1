"""Notifications are read tolerantly: ids from properties or body, in several spellings."""

from __future__ import annotations

import uuid

import pytest

from pie.messages import COMMENT_CREATED, TICKET_CREATED, UnparseableMessage, parse_notification


def parse(body=None, properties=None, amqp_id="m-1", subject=None):
    return parse_notification(amqp_id=amqp_id, properties=properties, body=body, subject=subject)


def test_ticket_id_from_a_json_text_body() -> None:
    n = parse('{"ticketId": "T-1"}')
    assert (n.kind, n.ticket_id, n.comment_id, n.message_id) == (TICKET_CREATED, "T-1", None, "m-1")


def test_ids_from_application_properties() -> None:
    n = parse(None, {"type": "CommentCreated", "ticket_id": 42, "commentId": 7})
    assert (n.kind, n.ticket_id, n.comment_id) == (COMMENT_CREATED, "42", "7")


def test_ids_from_a_map_body_nested_one_level() -> None:
    n = parse({"eventType": "comment.created", "data": {"comment": {"id": "C-3"}, "ticket": {"id": "T-3"}}})
    assert (n.kind, n.ticket_id, n.comment_id) == (COMMENT_CREATED, "T-3", "C-3")


def test_bare_id_with_a_type_names_the_object() -> None:
    n = parse(b'{"id": "T-9"}', {"MessageType": "TicketCreated"})
    assert (n.kind, n.ticket_id) == (TICKET_CREATED, "T-9")


def test_kind_from_the_subject() -> None:
    assert parse('{"id": "C-1"}', subject="comment-created").comment_id == "C-1"


def test_message_id_falls_back_to_a_property_then_a_content_hash() -> None:
    assert parse('{"ticketId": "T"}', {"messageId": "p-1"}, amqp_id=None).message_id == "p-1"
    first = parse('{"ticketId": "T"}', amqp_id=None).message_id
    assert first.startswith("sha256:") and first == parse('{"ticketId": "T"}', amqp_id=None).message_id


def test_uuid_message_id_and_odd_property_types_are_kept_as_text() -> None:
    mid = uuid.uuid4()
    n = parse('{"ticketId": "T"}', {"when": uuid.UUID(int=1), "raw": b"\x00"}, amqp_id=mid)
    assert n.message_id == str(mid) and isinstance(n.properties["when"], str)


@pytest.mark.parametrize("body", ["not json", b"\xff\xfe", '{"hello": 1}', None, "[1, 2]"])
def test_a_message_naming_nothing_is_unparseable(body) -> None:
    with pytest.raises(UnparseableMessage) as info:
        parse(body)
    assert info.value.notification.message_id == "m-1" and info.value.reason


def test_comment_type_without_a_comment_id_is_unparseable() -> None:
    with pytest.raises(UnparseableMessage):
        parse('{"ticketId": "T-1"}', {"type": "CommentCreated"})
