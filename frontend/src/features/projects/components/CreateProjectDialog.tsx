// Creates a project, with the name rules shown before the server has to refuse anything.
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { ApiError } from "@/api/client";
import { Button, Dialog, ErrorMessage, Field } from "@/components/ui";
import { useCreateProject } from "../api/createProject";

// The portal's rule (portal/projects/services.py), checked here only to help while typing.
const NAME_RULE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function projectNameProblem(name: string): string | undefined {
  if (name === "") return undefined;
  if (name.length > 255) return "At most 255 characters.";
  if (name !== name.toLowerCase()) return "Use lowercase letters only.";
  if (!NAME_RULE.test(name)) return "Letters and digits, separated by single . _ or - (not at the start or end).";
  return undefined;
}

export function CreateProjectDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const create = useCreateProject();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [isPublic, setPublic] = useState(false);
  const [description, setDescription] = useState("");
  const problem = projectNameProblem(name);
  const fields = create.error instanceof ApiError ? create.error.fieldErrors() : {};
  const close = () => {
    setName("");
    setPublic(false);
    setDescription("");
    create.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (problem || !name) return;
    create.mutate(
      { name, public: isPublic, description },
      {
        onSuccess: (project) => {
          close();
          navigate(`/projects/${encodeURIComponent(project.name)}`);
        },
      },
    );
  };
  return (
    <Dialog open={open} title="New project" onClose={close}>
      <form className="stack" onSubmit={submit}>
        <Field label="Name" hint="Lowercase letters and digits, optionally separated by . _ or -; 1 to 255 characters. It becomes the first part of every image path." error={problem ?? fields.name}>
          <input name="name" required maxLength={255} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} data-autofocus />
        </Field>
        <Field label="Description" error={fields.description}>
          <input name="description" maxLength={1024} value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} />
          Public: anyone, even without an account, may pull its images
        </label>
        {create.error && Object.keys(fields).length === 0 ? <ErrorMessage error={create.error} /> : null}
        <div className="form-actions">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={create.isPending} disabled={!name || Boolean(problem)}>
            Create project
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
