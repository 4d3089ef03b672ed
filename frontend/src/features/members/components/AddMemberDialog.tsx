// Adds a member by username, suggesting users as the name is typed when the API allows searching them.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import type { Role } from "@/api/types";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { useDebounced } from "@/lib/useDebounced";
import { useAddMember } from "../api/addMember";
import { useUserSearch } from "../api/searchUsers";
import { ROLES } from "./roles";

export function AddMemberDialog({ project, open, onClose }: { project: string; open: boolean; onClose: () => void }) {
  const add = useAddMember(project);
  const capabilities = useSystemCapabilities();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("developer");
  const typed = useDebounced(username.trim(), 200);
  const suggestions = useUserSearch(typed, open && capabilities.can_search_users);
  const fields = add.error instanceof ApiError ? add.error.fieldErrors() : {};
  const close = () => {
    setUsername("");
    setRole("developer");
    add.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ username: username.trim(), role }, { onSuccess: close });
  };
  const listId = `user-suggestions-${project}`;
  return (
    <Dialog open={open} title="Add a member" onClose={close}>
      <form className="stack" onSubmit={submit}>
        <Field label="Username" hint={capabilities.can_search_users ? "Start typing to see matching users." : "The exact username of an existing user."} error={fields.username}>
          <input name="username" required autoComplete="off" list={listId} value={username} onChange={(e) => setUsername(e.target.value)} data-autofocus />
        </Field>
        <datalist id={listId}>
          {(suggestions.data?.results ?? []).map((user) => (
            <option key={user.username} value={user.username} />
          ))}
        </datalist>
        <Field label="Role" error={fields.role}>
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label} — {option.summary}
              </option>
            ))}
          </select>
        </Field>
        {add.error && Object.keys(fields).length === 0 ? <ErrorMessage error={add.error} /> : null}
        <div className="form-actions">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={add.isPending} disabled={!username.trim()}>
            Add member
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
