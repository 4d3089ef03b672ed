// Harbor's five project roles, most powerful first, with what each adds in words.
import type { Role } from "@/api/types";

export const ROLES: { value: Role; label: string; summary: string }[] = [
  { value: "project_admin", label: "Project admin", summary: "everything, including members, robots and settings" },
  { value: "maintainer", label: "Maintainer", summary: "push, and delete artifacts and tags" },
  { value: "developer", label: "Developer", summary: "push and pull" },
  { value: "guest", label: "Guest", summary: "pull, and see members and logs" },
  { value: "limited_guest", label: "Limited guest", summary: "pull only" },
];
