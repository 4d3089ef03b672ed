// The shell: top bar with the user menu (or, for an anonymous visitor on a public page, a sign-in button),
// side navigation (a drawer on phones), and the page.
import { useEffect, useState } from "react";
import { Link, NavLink, Navigate, Outlet, useLocation, useMatches } from "react-router";
import { ErrorState, Loading } from "@/components/ui";
import { useCurrentUser } from "@/features/auth/api/getCurrentUser";
import { SignInLink } from "@/features/auth/components/SignInLink";
import { UserMenu } from "@/features/auth/components/UserMenu";
import { useSystemCapabilities } from "@/features/auth/usePermissions";
import { isSignedOutError, signInPath } from "@/features/auth/useViewer";
import { GlobalSearch } from "@/features/search/components/GlobalSearch";
import { useSystemInfo } from "@/features/system/api/getSystemInfo";

interface NavItem {
  to: string;
  label: string;
  icon: string;
  end?: boolean;
}

const MAIN_NAV: NavItem[] = [
  { to: "/", label: "Dashboard", icon: "◧", end: true },
  { to: "/projects", label: "Projects", icon: "▤" },
  { to: "/account/tokens", label: "Personal tokens", icon: "◇" },
];
const PUBLIC_NAV: NavItem[] = [{ to: "/projects", label: "Public projects", icon: "▤" }];

/** A route's `handle`: `public` pages are shown to anonymous visitors (the API decides what they see). */
export interface RouteHandle {
  public?: boolean;
}

function SideNav({ onNavigate, anonymous }: { onNavigate: () => void; anonymous: boolean }) {
  const capabilities = useSystemCapabilities();
  const admin: NavItem[] = [];
  if (capabilities.can_manage_users) admin.push({ to: "/admin/users", label: "Users", icon: "☺" });
  if (capabilities.can_manage_robots) admin.push({ to: "/admin/robots", label: "Robot accounts", icon: "⚙" });
  if (capabilities.can_read_audit_log) admin.push({ to: "/admin/audit", label: "Audit log", icon: "☰" });
  if (capabilities.can_manage_configuration) admin.push({ to: "/admin/authentication", label: "Authentication", icon: "◈" });
  if (capabilities.can_manage_configuration) admin.push({ to: "/admin/settings", label: "Settings", icon: "⚒" });
  if (capabilities.is_admin) admin.push({ to: "/admin/webhooks", label: "Webhooks", icon: "↯" });
  if (capabilities.is_admin) admin.push({ to: "/admin/hosts", label: "Hosts", icon: "▣" });
  if (capabilities.is_admin) admin.push({ to: "/admin/health", label: "System health", icon: "♥" });
  if (capabilities.is_admin) admin.push({ to: "/admin/gc", label: "Garbage collection", icon: "♻" });
  const link = (item: NavItem) => (
    <li key={item.to}>
      <NavLink to={item.to} end={item.end} onClick={onNavigate} className={({ isActive }) => `nav-link${isActive ? " nav-link-active" : ""}`}>
        <span className="nav-icon" aria-hidden="true">
          {item.icon}
        </span>
        {item.label}
      </NavLink>
    </li>
  );
  return (
    <>
      <ul className="nav-list">{(anonymous ? PUBLIC_NAV : MAIN_NAV).map(link)}</ul>
      {admin.length > 0 ? (
        <>
          <h2 className="nav-heading">Administration</h2>
          <ul className="nav-list">{admin.map(link)}</ul>
        </>
      ) : null}
    </>
  );
}

export function AppLayout() {
  const user = useCurrentUser();
  const location = useLocation();
  const matches = useMatches();
  const [drawerOpen, setDrawerOpen] = useState(false);
  const info = useSystemInfo();

  useEffect(() => setDrawerOpen(false), [location.pathname]);

  if (user.isPending) return <Loading label="Starting Berth…" />;
  const anonymous = user.isError && isSignedOutError(user.error);
  if (user.isError && !anonymous) return <ErrorState error={user.error} onRetry={() => user.refetch()} title="Berth could not load your account" />;
  const publicPage = (matches.at(-1)?.handle as RouteHandle | undefined)?.public === true;
  if (anonymous && !publicPage) return <Navigate to={signInPath(`${location.pathname}${location.search}`)} replace />;
  return (
    <div className={`shell${drawerOpen ? " shell-drawer-open" : ""}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="icon-button menu-toggle" aria-label="Menu" aria-expanded={drawerOpen} aria-controls="sidenav" onClick={() => setDrawerOpen((open) => !open)}>
          ☰
        </button>
        <Link to={anonymous ? "/projects" : "/"} className="brand">
          <span className="brand-mark" aria-hidden="true">
            ⚓
          </span>
          Berth
        </Link>
        <GlobalSearch />
        <div className="topbar-spacer" />
        {user.data ? <UserMenu user={user.data} /> : <SignInLink />}
      </header>
      {info.data?.read_only ? (
        <div className="read-only-banner" role="status">
          Berth is in read-only mode: pulls and browsing work, pushes and changes are refused until an administrator turns it off.
        </div>
      ) : null}
      <nav id="sidenav" className="sidenav" aria-label="Main">
        <SideNav anonymous={anonymous} onNavigate={() => setDrawerOpen(false)} />
      </nav>
      {drawerOpen ? <div className="drawer-backdrop" onClick={() => setDrawerOpen(false)} aria-hidden="true" /> : null}
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
