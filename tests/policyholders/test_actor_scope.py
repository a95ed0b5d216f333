"""The write services check what they are given in the scope of the user they act for (``actor``), not of whoever
is signed in to the request: a job, the CLI or the demo act with no request user, and an import or an admin acting
for someone must not lend their own scope."""

from __future__ import annotations

import pytest
from flask import g
from marshmallow import ValidationError

from policyholders import household, services
from policyholders.models import (
    InteractionChannel,
    PolicyholderRelationship,
    RelationshipKind,
    ServiceCategory,
    ServiceKind,
    ServicePriority,
)


def test_with_no_request_user_the_actors_scope_decides(app, org, make):
    mine, spouse = make.policyholder(org.agent), make.policyholder(org.agent)
    make.session.commit()
    g.pop("user", None)
    contact = services.create_interaction({"policyholder_id": mine.id, "channel": InteractionChannel.PHONE,
                                           "summary": "Called about the renewal"}, actor=org.agent_user)
    request = services.create_service_request({"policyholder_id": mine.id, "kind": ServiceKind.COMPLAINT,
                                               "category": ServiceCategory.ENQUIRY,
                                               "priority": ServicePriority.NORMAL, "subject": "Late letter"},
                                              actor=org.agent_user)
    services.update_service_request(request, {"assigned_agent_id": org.agent.id}, actor=org.agent_user)
    household.create_relationship(mine, {"to_policyholder_id": spouse.id, "kind": RelationshipKind.SPOUSE},
                                  actor=org.agent_user)
    assert contact.agent_id == org.agent.id and request.assigned_agent_id == org.agent.id
    assert make.session.query(PolicyholderRelationship).count() == 2  # and the inverse


def test_the_signed_in_user_does_not_lend_their_scope_to_the_actor(app, org, make):
    theirs, mine = make.policyholder(org.other_agent), make.policyholder(org.agent)
    make.session.commit()
    g.user = org.admin  # who may see everything: the service must still refuse the agent
    with pytest.raises(ValidationError) as refused:
        services.create_interaction({"policyholder_id": theirs.id, "channel": InteractionChannel.PHONE,
                                     "summary": "Called"}, actor=org.agent_user)
    assert set(refused.value.messages) == {"policyholder_id"}
    with pytest.raises(ValidationError) as refused:
        household.create_relationship(mine, {"to_policyholder_id": theirs.id, "kind": RelationshipKind.SPOUSE},
                                      actor=org.agent_user)
    assert set(refused.value.messages) == {"to_policyholder_id"}
    with pytest.raises(ValidationError) as refused:
        services.create_service_request({"policyholder_id": mine.id, "kind": ServiceKind.COMPLAINT,
                                         "category": ServiceCategory.ENQUIRY, "priority": ServicePriority.NORMAL,
                                         "subject": "Late letter", "assigned_agent_id": org.other_agent.id},
                                        actor=org.agent_user)
    assert set(refused.value.messages) == {"assigned_agent_id"}
