// Every page's address; each page is its own chunk, loaded when first visited.
import { createBrowserRouter, Navigate, type RouteObject } from "react-router";
import { Loading } from "@/components/ui";
import { AppLayout, type RouteHandle } from "./AppLayout";
import { RouteError } from "./RouteError";

type PageModule = { default: React.ComponentType };
const page = (load: () => Promise<PageModule>) => async () => ({ Component: (await load()).default });
// Anonymous visitors may read public projects; every other page sends them to sign in.
const PUBLIC: RouteHandle = { public: true };

export const routes: RouteObject[] = [
  {
    path: "/login",
    lazy: page(() => import("@/features/auth/routes/SignInPage")),
    errorElement: <RouteError />,
    hydrateFallbackElement: <Loading />,
  },
  {
    path: "/",
    element: <AppLayout />,
    errorElement: <RouteError />,
    hydrateFallbackElement: <Loading />,
    children: [
      { index: true, lazy: page(() => import("@/features/dashboard/routes/DashboardPage")) },
      { path: "projects", handle: PUBLIC, lazy: page(() => import("@/features/projects/routes/ProjectsPage")) },
      {
        path: "projects/:project",
        handle: PUBLIC,
        lazy: page(() => import("@/features/projects/routes/ProjectLayout")),
        children: [
          { index: true, handle: PUBLIC, element: <Navigate to="repositories" replace /> },
          { path: "repositories", handle: PUBLIC, lazy: page(() => import("@/features/repositories/routes/RepositoriesTab")) },
          { path: "members", lazy: page(() => import("@/features/members/routes/MembersTab")) },
          { path: "robots", lazy: page(() => import("@/features/robots/routes/ProjectRobotsTab")) },
          { path: "containers", lazy: page(() => import("@/features/fleet/routes/ProjectContainersTab")) },
          { path: "webhooks", lazy: page(() => import("@/features/webhooks/routes/ProjectWebhooksTab")) },
          { path: "logs", lazy: page(() => import("@/features/audit/routes/ProjectAuditTab")) },
          { path: "policies", lazy: page(() => import("@/features/policies/routes/PoliciesTab")) },
          { path: "settings", lazy: page(() => import("@/features/projects/routes/ProjectSettingsTab")) },
        ],
      },
      { path: "projects/:project/repositories/:repository", handle: PUBLIC, lazy: page(() => import("@/features/repositories/routes/RepositoryPage")) },
      {
        path: "projects/:project/repositories/:repository/artifacts/:reference",
        handle: PUBLIC,
        lazy: page(() => import("@/features/artifacts/routes/ArtifactPage")),
      },
      { path: "account/profile", lazy: page(() => import("@/features/auth/routes/ProfilePage")) },
      { path: "account/tokens", lazy: page(() => import("@/features/tokens/routes/TokensPage")) },
      { path: "admin/users", lazy: page(() => import("@/features/users/routes/UsersPage")) },
      { path: "admin/robots", lazy: page(() => import("@/features/robots/routes/SystemRobotsPage")) },
      { path: "admin/audit", lazy: page(() => import("@/features/audit/routes/AuditLogPage")) },
      { path: "admin/authentication", lazy: page(() => import("@/features/identity/routes/AuthenticationPage")) },
      { path: "admin/settings", lazy: page(() => import("@/features/system/routes/SettingsPage")) },
      { path: "admin/webhooks", lazy: page(() => import("@/features/webhooks/routes/SystemWebhooksPage")) },
      { path: "admin/hosts", lazy: page(() => import("@/features/fleet/routes/HostsPage")) },
      { path: "admin/health", lazy: page(() => import("@/features/system/routes/HealthPage")) },
      { path: "admin/gc", lazy: page(() => import("@/features/gc/routes/GarbageCollectionPage")) },
      { path: "*", lazy: page(() => import("./NotFoundPage")) },
    ],
  },
];

export const createRouter = () => createBrowserRouter(routes);
