// Tabs that are links, so each tab has its own address and the browser's back button works.
import { NavLink } from "react-router";

export function TabLinks({ tabs, label }: { tabs: { to: string; label: string; end?: boolean }[]; label: string }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => (
        <NavLink key={tab.to} to={tab.to} end={tab.end} className={({ isActive }) => `tab${isActive ? " tab-active" : ""}`}>
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}
