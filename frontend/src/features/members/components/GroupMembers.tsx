// The directory groups that are members of a project: everyone the directory puts in one holds its role.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { Role } from "@/api/types";
import { Button, ErrorMessage, Field } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { useAuthSources } from "@/features/identity/api/listAuthSources";
import { RoleBadge } from "@/features/projects/components/VisibilityBadge";
import { useAddGroupMember } from "../api/addGroupMember";
import { useGroupMembers } from "../api/listGroupMembers";
import { useRemoveGroupMember } from "../api/removeGroupMember";
import { ROLES } from "./roles";

export function GroupMembers({ project, canAdd, canRemove }: { project: string; canAdd: boolean; canRemove: boolean }) {
  const groups = useGroupMembers(project);
  const add = useAddGroupMember(project);
  const remove = useRemoveGroupMember(project);
  const capabilities = useSystemCapabilities();
  // Only administrators may list sources; others type the source's name.
  const sources = useAuthSources(capabilities.can_manage_configuration);
  const [source, setSource] = useState("");
  const [group, setGroup] = useState("");
  const [role, setRole] = useState<Role>("developer");
  const fields = add.error instanceof ApiError ? add.error.fieldErrors() : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ source: source.trim(), group: group.trim(), role }, { onSuccess: () => setGroup("") });
  };
  const rows = groups.data?.results ?? [];
  if (!canAdd && rows.length === 0) return null;
  return (
    <section className="card stack" aria-labelledby="group-members-title">
      <h2 id="group-members-title">Groups</h2>
      {groups.isError ? <ErrorMessage error={groups.error} /> : null}
      {rows.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">Source</th>
                <th scope="col">Role</th>
                {canRemove ? <th scope="col"><span className="visually-hidden">Actions</span></th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((member) => (
                <tr key={member.id}>
                  <td>{member.group}</td>
                  <td>{member.source}</td>
                  <td>
                    <RoleBadge role={member.role} />
                  </td>
                  {canRemove ? (
                    <td className="actions">
                      <Button size="sm" variant="ghost" busy={remove.isPending} onClick={() => remove.mutate(member.id)} aria-label={`Remove group ${member.group}`}>
                        Remove
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p className="muted">No group is a member yet.</p>
      )}
      {canAdd ? (
        <form className="row" style={{ alignItems: "flex-end", flexWrap: "wrap" }} onSubmit={submit}>
          <Field label="Source" error={fields.source}>
            <input list={`sources-${project}`} value={source} onChange={(e) => setSource(e.target.value)} required autoComplete="off" />
          </Field>
          <datalist id={`sources-${project}`}>
            {(sources.data?.results ?? []).map((option) => (
              <option key={option.id} value={option.name} />
            ))}
          </datalist>
          <Field label="Group DN" error={fields.group}>
            <input value={group} onChange={(e) => setGroup(e.target.value)} required autoComplete="off" />
          </Field>
          <Field label="Group role" error={fields.role}>
            <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
          </Field>
          <Button type="submit" busy={add.isPending} disabled={!source.trim() || !group.trim()}>
            Add group
          </Button>
        </form>
      ) : null}
      {add.error && Object.keys(fields).length === 0 ? <ErrorMessage error={add.error} /> : null}
    </section>
  );
}
