// A project's members: add by username, change role, remove — for those the API allows.
import { useState } from "react";
import type { Member, Role } from "@/api/types";
import { Button, ConfirmDialog, EmptyState, ErrorMessage, ErrorState, Loading, Pagination, SearchInput, SortHeader } from "@/components/ui";
import { RoleBadge } from "@/features/projects/components/VisibilityBadge";
import { useProjectContext } from "@/features/projects/useProjectContext";
import { formatRelative } from "@/lib/format";
import { useListParams } from "@/lib/useListParams";
import { useChangeMemberRole } from "../api/changeMemberRole";
import { useMembers } from "../api/listMembers";
import { useRemoveMember } from "../api/removeMember";
import { AddMemberDialog } from "../components/AddMemberDialog";
import { GroupMembers } from "../components/GroupMembers";
import { ROLES } from "../components/roles";

export default function MembersTab() {
  const { project, access } = useProjectContext();
  const [state, update] = useListParams({ sort: "user__username" });
  const members = useMembers(project.name, { username: state.q, sort: state.sort, page: state.page, page_size: state.pageSize });
  const changeRole = useChangeMemberRole(project.name);
  const remove = useRemoveMember(project.name);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Member | null>(null);
  const canAdd = access.can("member:create");
  const canUpdate = access.can("member:update");
  const canRemove = access.can("member:delete");

  let body;
  if (members.isPending) body = <Loading label="Loading members…" />;
  else if (members.isError) body = <ErrorState error={members.error} onRetry={() => members.refetch()} />;
  else if (members.data.count === 0)
    body = <EmptyState title={state.q ? `No member matches “${state.q}”` : "No members"}>{canAdd ? "Add people so they can push and pull." : null}</EmptyState>;
  else
    body = (
      <>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <SortHeader field="user__username" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Username
                </SortHeader>
                <SortHeader field="role" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Role
                </SortHeader>
                <SortHeader field="created_at" sort={state.sort} onSort={(sort) => update({ sort })}>
                  Added
                </SortHeader>
                {canRemove ? <th scope="col"><span className="visually-hidden">Actions</span></th> : null}
              </tr>
            </thead>
            <tbody>
              {members.data.results.map((member) => (
                <tr key={member.id}>
                  <td>{member.username}</td>
                  <td>
                    {canUpdate ? (
                      <select
                        aria-label={`Role of ${member.username}`}
                        value={member.role}
                        disabled={changeRole.isPending}
                        onChange={(event) => changeRole.mutate({ username: member.username, role: event.target.value as Role })}
                      >
                        {ROLES.map((role) => (
                          <option key={role.value} value={role.value}>
                            {role.label}
                          </option>
                        ))}
                      </select>
                    ) : (
                      <RoleBadge role={member.role} />
                    )}
                  </td>
                  <td title={member.created_at}>{formatRelative(member.created_at)}</td>
                  {canRemove ? (
                    <td className="actions">
                      <Button size="sm" variant="ghost" onClick={() => setRemoving(member)} aria-label={`Remove ${member.username}`}>
                        Remove
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Pagination page={state.page} pageSize={state.pageSize} count={members.data.count} noun="members" onPage={(page) => update({ page })} onPageSize={(pageSize) => update({ pageSize })} />
      </>
    );

  return (
    <>
      <div className="toolbar">
        <SearchInput label="Search members" value={state.q} onSearch={(q) => update({ q })} />
        <span className="spacer" />
        {canAdd ? (
          <Button variant="primary" onClick={() => setAdding(true)}>
            Add member
          </Button>
        ) : null}
      </div>
      {changeRole.error ? <ErrorMessage error={changeRole.error} /> : null}
      {body}
      <GroupMembers project={project.name} canAdd={canAdd} canRemove={canRemove} />
      <AddMemberDialog project={project.name} open={adding} onClose={() => setAdding(false)} />
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.username ?? ""}?`}
        confirmLabel="Remove member"
        onClose={() => setRemoving(null)}
        onConfirm={() => remove.mutateAsync(removing!.username)}
      >
        <p>
          {removing?.username} will lose access to {project.name}
          {project.public ? " beyond what a public project allows everyone" : ""}.
        </p>
      </ConfirmDialog>
    </>
  );
}
