"""The renewal limit's read of the annotator's answers since their batch's lease (on every lease
asked again and every renewal) walks the (annotator, created_at) index: only the answers since
then. Before, with the project's and the annotator's indexes only, it read every answer the
annotator ever gave in the project (a bitmap of both, then each row's time checked on the heap)."""
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from labeling.annotations.leasing import answers_since
from labeling.annotations.models import Annotation
from labeling.items.models import Item
from learner.text import text_hash

from .test_annotation_helpers import add_member

pytestmark = pytest.mark.django_db


def test_the_renewal_limit_reads_only_the_answers_since_the_lease(postgres_only, project_factory, make_user):
    project, other = project_factory("index37"), project_factory("index37b")
    ann, bob = add_member(make_user, project, "ann"), add_member(make_user, project, "bob")
    item = Item.objects.create(project=project, source=project.sources.first(), text="t", text_hash=text_hash("t"))
    # A year of answers: ann's in both projects, bob's in this one.
    rows = [Annotation(project=(project if i % 3 else other), item=item, annotator=(ann if i % 2 else bob))
            for i in range(20_000)]
    Annotation.objects.bulk_create(rows, batch_size=5000)
    start = timezone.now()
    with connection.cursor() as cursor:
        # By rank, not by id: ids go on from earlier tests' rows (a sequence is not rolled back).
        cursor.execute("UPDATE annotations_annotation a SET created_at = %s - (r.n * interval '17 minutes') FROM "
                       "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM annotations_annotation) r "
                       "WHERE a.id = r.id", [start])
        cursor.execute("ANALYZE annotations_annotation")

    since = start - timedelta(minutes=90)
    plan = answers_since(project, ann, since).explain()
    assert "annotation_annotator_created" in plan, plan
    assert f"Index Cond: ((annotator_id = {ann.pk}) AND (created_at >" in plan, plan
    assert "Seq Scan" not in plan and "BitmapAnd" not in plan, plan
    recent = list(Annotation.objects.filter(created_at__gt=since).values_list("project_id", "annotator_id"))
    assert answers_since(project, ann, since).count() == recent.count((project.pk, ann.pk)) > 0
