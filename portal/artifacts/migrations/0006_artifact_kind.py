"""Each artifact's kind, decided once from its stored manifest (and an index's from its children's)."""

from typing import Any

from django.db import migrations, models

from portal.artifacts.kinds import Kind, classify
from portal.artifacts.manifests import INDEX_TYPES, InvalidManifest, parse_manifest

BATCH = 1000


def classify_existing(apps: Any, schema_editor: Any) -> None:
    Artifact = apps.get_model("artifacts", "Artifact")
    ArtifactReference = apps.get_model("artifacts", "ArtifactReference")
    kinds: dict[int, str] = {}
    rows = Artifact.objects.order_by("id").values_list("id", "media_type", "manifest")
    # Manifests first, then indexes in id order: children are indexed before the indexes holding them,
    # so each index finds its children's kinds already decided.
    for indexes in (False, True):
        decided: list[Any] = []
        for artifact_id, media_type, manifest in rows.iterator(chunk_size=BATCH):
            if (media_type in INDEX_TYPES) != indexes:
                continue
            try:
                parsed = parse_manifest(bytes(manifest), media_type)
            except InvalidManifest:
                continue
            children = ArtifactReference.objects.filter(parent_id=artifact_id).values_list("child_id", flat=True) \
                if indexes else []
            kinds[artifact_id] = classify(parsed, [kinds[child] for child in children if child in kinds])
            decided.append(Artifact(id=artifact_id, kind=kinds[artifact_id]))
            if len(decided) >= BATCH:
                Artifact.objects.bulk_update(decided, ["kind"])
                decided = []
        Artifact.objects.bulk_update(decided, ["kind"])


class Migration(migrations.Migration):

    dependencies = [
        ("artifacts", "0005_artifact_tag_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="artifact",
            name="kind",
            field=models.CharField(choices=Kind.choices, default=Kind.IMAGE, max_length=16),
        ),
        migrations.RunPython(classify_existing, migrations.RunPython.noop),
    ]
