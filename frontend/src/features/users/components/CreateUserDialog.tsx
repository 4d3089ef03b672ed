// Creates a user with a first password the person should change.
import { useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useCreateUser } from "../api/createUser";

export function CreateUserDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const create = useCreateUser();
  const [form, setForm] = useState({ username: "", password: "", email: "", display_name: "", is_admin: false });
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const set = (key: keyof typeof form) => (event: React.ChangeEvent<HTMLInputElement>) =>
    setForm((current) => ({ ...current, [key]: event.target.type === "checkbox" ? event.target.checked : event.target.value }));
  const close = () => {
    setForm({ username: "", password: "", email: "", display_name: "", is_admin: false });
    create.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({ ...form, comment: "" }, { onSuccess: close });
  };
  return (
    <Dialog open={open} title="New user" onClose={close}>
      <form className="stack" onSubmit={submit}>
        <Field label="Username" hint="Letters, digits and . _ - @; it cannot be changed later." error={fields.username}>
          <input name="username" required maxLength={150} autoComplete="off" value={form.username} onChange={set("username")} data-autofocus />
        </Field>
        <Field label="Password" hint="At least 8 characters; tell the person to change it after signing in." error={fields.password}>
          <input name="password" type="password" required autoComplete="new-password" value={form.password} onChange={set("password")} />
        </Field>
        <Field label="Email" error={fields.email}>
          <input name="email" type="email" value={form.email} onChange={set("email")} />
        </Field>
        <Field label="Display name" error={fields.display_name}>
          <input name="display_name" value={form.display_name} onChange={set("display_name")} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={form.is_admin} onChange={set("is_admin")} />
          System administrator
        </label>
        {create.error && Object.keys(fields).length === 0 ? <ErrorMessage error={create.error} /> : null}
        <div className="form-actions">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending}>
            Create user
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
