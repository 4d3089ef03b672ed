// A project's tag policies: immutability rules, the retention rules with a dry-run preview, and the run history.
import { useEffect, useState } from "react";
import type { RetentionRule } from "@/api/types";
import { Button, EmptyState, ErrorMessage, Loading } from "@/components/ui";
import { useProjectContext } from "@/features/projects/useProjectContext";
import { useCreateImmutabilityRule, useDeleteImmutabilityRule, useImmutabilityRules } from "../api/immutabilityRules";
import { useRetentionPolicy, useRetentionRun, useRetentionRuns, useSaveRetentionPolicy, useStartRetentionRun } from "../api/retention";

const patterns = (text: string) =>
  text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);

const TEMPLATES: { value: RetentionRule["template"]; label: string }[] = [
  { value: "keep_latest_pushed", label: "keep the K most recently pushed" },
  { value: "keep_latest_pulled", label: "keep the K most recently pulled" },
  { value: "pushed_within_days", label: "keep those pushed within N days" },
  { value: "pulled_within_days", label: "keep those pulled within N days" },
  { value: "always", label: "keep always" },
];

export default function PoliciesTab() {
  const { project, access } = useProjectContext();
  return (
    <div className="stack">
      {access.can("immutable-tag:list") ? <ImmutabilitySection project={project.name} canEdit={access.can("immutable-tag:create")} /> : null}
      {access.can("tag-retention:read") ? (
        <RetentionSection project={project.name} canEdit={access.can("tag-retention:update")} canRun={access.can("tag-retention:create")} />
      ) : null}
    </div>
  );
}

function ImmutabilitySection({ project, canEdit }: { project: string; canEdit: boolean }) {
  const rules = useImmutabilityRules(project);
  const create = useCreateImmutabilityRule(project);
  const remove = useDeleteImmutabilityRule(project);
  const [tags, setTags] = useState("");
  const [repositories, setRepositories] = useState("");
  return (
    <section className="card stack" aria-labelledby="immutability-title">
      <h2 id="immutability-title">Immutable tags</h2>
      <p className="muted">A matching tag is never moved to another digest nor deleted. Patterns are globs (`*` matches anything), separated by commas.</p>
      {rules.isPending ? <Loading label="Loading the rules…" /> : null}
      {rules.error ? <ErrorMessage error={rules.error} /> : null}
      {rules.data && rules.data.length === 0 ? <EmptyState title="No immutability rule" /> : null}
      {rules.data && rules.data.length > 0 ? (
        <table className="table" aria-label="Immutability rules">
          <thead>
            <tr>
              <th scope="col">Tags</th>
              <th scope="col">Repositories</th>
              <th scope="col">Created by</th>
              <th scope="col" />
            </tr>
          </thead>
          <tbody>
            {rules.data.map((rule) => (
              <tr key={rule.id}>
                <td>
                  🔒 {rule.tags.join(", ")}
                  {rule.tags_excluded?.length ? <span className="muted"> except {rule.tags_excluded.join(", ")}</span> : null}
                </td>
                <td>{rule.repositories?.length ? rule.repositories.join(", ") : <span className="muted">all</span>}</td>
                <td>{rule.created_by}</td>
                <td>{canEdit ? <Button variant="danger" onClick={() => remove.mutate(rule.id)}>Delete</Button> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {canEdit ? (
        <form
          className="row"
          onSubmit={(event) => {
            event.preventDefault();
            create.mutate({ tags: patterns(tags), repositories: patterns(repositories) }, { onSuccess: () => setTags("") });
          }}
        >
          <input aria-label="Immutable tag patterns" placeholder="release-*, 1.*" value={tags} onChange={(e) => setTags(e.target.value)} />
          <input aria-label="Repository patterns" placeholder="all repositories" value={repositories} onChange={(e) => setRepositories(e.target.value)} />
          <Button type="submit" disabled={patterns(tags).length === 0} busy={create.isPending}>
            Add rule
          </Button>
        </form>
      ) : null}
      {create.error ? <ErrorMessage error={create.error} /> : null}
    </section>
  );
}

function RetentionSection({ project, canEdit, canRun }: { project: string; canEdit: boolean; canRun: boolean }) {
  const policy = useRetentionPolicy(project);
  const save = useSaveRetentionPolicy(project);
  const start = useStartRetentionRun(project);
  const runs = useRetentionRuns(project);
  const [rules, setRules] = useState<RetentionRule[]>([]);
  const [schedule, setSchedule] = useState("");
  const [shown, setShown] = useState<number | null>(null);
  const report = useRetentionRun(project, shown);
  useEffect(() => {
    if (policy.data) {
      setRules(policy.data.rules);
      setSchedule(policy.data.schedule ?? "");
    }
  }, [policy.data]);
  if (policy.isPending) return <Loading label="Loading the retention policy…" />;
  if (policy.error) return <ErrorMessage error={policy.error} />;
  const change = (index: number, patch: Partial<RetentionRule>) => setRules(rules.map((rule, i) => (i === index ? { ...rule, ...patch } : rule)));
  const run = (dryRun: boolean) => start.mutate(dryRun, { onSuccess: (started) => setShown(started.id) });
  return (
    <>
      <section className="card stack" aria-labelledby="retention-title">
        <h2 id="retention-title">Retention</h2>
        <p className="muted">A tag no rule keeps is removed, tag by tag. Immutable tags and images a container runs are always kept.</p>
        {rules.map((rule, index) => (
          <div className="row" key={index} role="group" aria-label={`Rule ${index + 1}`}>
            <input aria-label="Repositories" placeholder="all repositories" disabled={!canEdit} value={(rule.repositories ?? []).join(", ")} onChange={(e) => change(index, { repositories: patterns(e.target.value) })} />
            <input aria-label="Tags" placeholder="all tags" disabled={!canEdit} value={(rule.tags ?? []).join(", ")} onChange={(e) => change(index, { tags: patterns(e.target.value) })} />
            <select aria-label="Template" disabled={!canEdit} value={rule.template} onChange={(e) => change(index, { template: e.target.value as RetentionRule["template"] })}>
              {TEMPLATES.map((template) => (
                <option key={template.value} value={template.value}>
                  {template.label}
                </option>
              ))}
            </select>
            {rule.template !== "always" ? (
              <input aria-label="Count" type="number" min={1} style={{ width: "6em" }} disabled={!canEdit} value={rule.count ?? 0} onChange={(e) => change(index, { count: Number(e.target.value) })} />
            ) : null}
            {canEdit ? <Button onClick={() => setRules(rules.filter((_, i) => i !== index))}>Remove</Button> : null}
          </div>
        ))}
        {canEdit ? (
          <div className="row">
            <Button onClick={() => setRules([...rules, { template: "keep_latest_pushed", count: 10, tags: [], repositories: [], untagged: false }])}>Add rule</Button>
            <input aria-label="Schedule (cron, UTC)" placeholder="cron, e.g. 0 3 * * *" value={schedule} onChange={(e) => setSchedule(e.target.value)} />
            <Button busy={save.isPending} onClick={() => save.mutate({ schedule, rules })}>
              Save policy
            </Button>
          </div>
        ) : null}
        {save.isSuccess ? (
          <div className="alert alert-success" role="status">
            Saved.
          </div>
        ) : null}
        {save.error ? <ErrorMessage error={save.error} /> : null}
        {canRun ? (
          <div className="row">
            <Button onClick={() => run(true)} busy={start.isPending}>
              Dry run
            </Button>
            <Button variant="danger" onClick={() => run(false)} busy={start.isPending}>
              Run now
            </Button>
          </div>
        ) : null}
        {start.error ? <ErrorMessage error={start.error} /> : null}
        {report.data ? <RunReport report={report.data.report as Report} status={report.data.status} dryRun={report.data.dry_run} /> : null}
      </section>
      <section className="card stack" aria-labelledby="runs-title">
        <h2 id="runs-title">Run history</h2>
        {runs.data && runs.data.results.length === 0 ? <EmptyState title="No run yet" /> : null}
        {runs.data && runs.data.results.length > 0 ? (
          <table className="table" aria-label="Retention runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Status</th>
                <th scope="col">Removed</th>
                <th scope="col">Kept</th>
                <th scope="col">By</th>
                <th scope="col">Started</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {runs.data.results.map((item) => (
                <tr key={item.id}>
                  <td>
                    #{item.id} {item.dry_run ? "(dry run)" : ""}
                  </td>
                  <td>{item.status}</td>
                  <td>{item.removed}</td>
                  <td>{item.kept}</td>
                  <td>{item.triggered_by}</td>
                  <td>{item.created_at ? new Date(item.created_at).toLocaleString() : ""}</td>
                  <td>
                    <Button onClick={() => setShown(item.id)}>Report</Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}

type Report = { repositories?: Record<string, Record<string, string>> };

function RunReport({ report, status, dryRun }: { report: Report; status: string; dryRun: boolean }) {
  if (status === "pending" || status === "running") return <Loading label="Running…" />;
  const rows = Object.entries(report.repositories ?? {}).flatMap(([repository, tags]) => Object.entries(tags).map(([tag, verdict]) => ({ repository, tag, verdict })));
  return (
    <table className="table" aria-label={dryRun ? "Dry run preview" : "Run report"}>
      <thead>
        <tr>
          <th scope="col">Repository</th>
          <th scope="col">Tag</th>
          <th scope="col">{dryRun ? "Would be" : "Verdict"}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={`${row.repository}:${row.tag}`}>
            <td>{row.repository}</td>
            <td>{row.tag}</td>
            <td>{row.verdict}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
