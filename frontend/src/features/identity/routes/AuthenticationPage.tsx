// Administration → Authentication: the LDAP directories people may sign in with, besides local accounts.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { AuthSource } from "@/api/types";
import { Badge, Button, EmptyState, ErrorMessage, ErrorState, Field, Loading, PageHeader } from "@/components/ui";
import { useCreateAuthSource } from "../api/createAuthSource";
import { useAuthSources } from "../api/listAuthSources";
import { useTestAuthSource } from "../api/testAuthSource";

export default function AuthenticationPage() {
  const sources = useAuthSources();
  let body;
  if (sources.isPending) body = <Loading label="Loading sources…" />;
  else if (sources.isError) body = <ErrorState error={sources.error} onRetry={() => sources.refetch()} />;
  else if (sources.data.count === 0) body = <EmptyState title="No directory yet">Only local accounts sign in.</EmptyState>;
  else body = <div className="stack">{sources.data.results.map((source) => <SourceCard key={source.id} source={source} />)}</div>;
  return (
    <>
      <PageHeader title="Authentication">
        <p className="muted">
          Local accounts always sign in. Directory users sign in with their directory password and appear as <code>name+source</code>.
        </p>
      </PageHeader>
      <div className="stack">
        {body}
        <AddLdapSource />
      </div>
    </>
  );
}

function SourceCard({ source }: { source: AuthSource }) {
  const test = useTestAuthSource(source.id);
  const [username, setUsername] = useState("");
  const settings = source.settings as Record<string, unknown>;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    test.mutate(username.trim());
  };
  const result = test.data;
  return (
    <section className="card stack" aria-label={`Source ${source.name}`}>
      <h2>
        {source.name} <Badge>{source.kind.toUpperCase()}</Badge> {source.enabled ? <Badge tone="success">enabled</Badge> : <Badge>disabled</Badge>}
      </h2>
      <p className="muted">
        {(settings.urls as string[] | undefined)?.join(", ")} · users under {String(settings.user_search_base ?? "")}
        {source.secret_set ? " · bind password set" : ""}
      </p>
      <form className="row" style={{ alignItems: "flex-end" }} onSubmit={submit}>
        <Field label={`User to look up in ${source.name}`}>
          <input value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off" />
        </Field>
        <Button type="submit" busy={test.isPending} disabled={!username.trim()}>
          Test
        </Button>
      </form>
      {test.error ? <ErrorMessage error={test.error} /> : null}
      {result ? (
        <div className={result.ok && result.found ? "alert" : "alert alert-warning"} role="status">
          {!result.ok
            ? `The directory did not answer: ${result.error}`
            : !result.found
              ? "No such user in this directory."
              : `Found ${result.dn} (${result.display_name}, ${result.email || "no e-mail"})${result.is_admin ? ", an administrator" : ""}; groups: ${result.groups.join("; ") || "none"}`}
        </div>
      ) : null}
    </section>
  );
}

const EMPTY = { name: "", url: "", bind_dn: "", secret: "", user_search_base: "", group_search_base: "", admin_group: "" };

function AddLdapSource() {
  const create = useCreateAuthSource();
  const [form, setForm] = useState(EMPTY);
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const set = (key: keyof typeof EMPTY) => (event: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [key]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const settings: Record<string, unknown> = { urls: [form.url.trim()], user_search_base: form.user_search_base.trim() };
    for (const key of ["bind_dn", "group_search_base", "admin_group"] as const) if (form[key].trim()) settings[key] = form[key].trim();
    create.mutate({ kind: "ldap", name: form.name.trim(), enabled: true, priority: 100, settings, secret: form.secret }, { onSuccess: () => setForm(EMPTY) });
  };
  return (
    <section className="card stack" aria-labelledby="add-ldap-title">
      <h2 id="add-ldap-title">Add an LDAP directory</h2>
      <form className="stack" onSubmit={submit}>
        <Field label="Name" hint="Lower-case letters, digits and '-'; directory users are named user+name." error={fields.name}>
          <input value={form.name} onChange={set("name")} required />
        </Field>
        <Field label="Server URL" hint="ldap://host:389 or ldaps://host:636">
          <input value={form.url} onChange={set("url")} required />
        </Field>
        <Field label="Bind DN">
          <input value={form.bind_dn} onChange={set("bind_dn")} />
        </Field>
        <Field label="Bind password" hint="Stored encrypted; never shown again.">
          <input type="password" value={form.secret} onChange={set("secret")} autoComplete="new-password" />
        </Field>
        <Field label="User search base">
          <input value={form.user_search_base} onChange={set("user_search_base")} required />
        </Field>
        <Field label="Group search base" hint="Groups (nested ones too) found here may be project members.">
          <input value={form.group_search_base} onChange={set("group_search_base")} />
        </Field>
        <Field label="Admin group DN" hint="Its members are system administrators.">
          <input value={form.admin_group} onChange={set("admin_group")} />
        </Field>
        {create.error && !fields.name ? <ErrorMessage error={create.error} /> : null}
        <div className="form-actions">
          <Button type="submit" variant="primary" busy={create.isPending}>
            Add directory
          </Button>
        </div>
      </form>
    </section>
  );
}
