// The title row of a page: breadcrumbs, heading, and the page's main actions.
import { useEffect, type ReactNode } from "react";
import { Link } from "react-router";

export function PageHeader({ title, crumbs, actions, children, documentTitle }: { title: ReactNode; crumbs?: { to: string; label: string }[]; actions?: ReactNode; children?: ReactNode; documentTitle?: string }) {
  // The tab's title names the page, so history, tabs and screen readers tell pages apart.
  const text = documentTitle ?? (typeof title === "string" ? title : undefined);
  useEffect(() => {
    if (text) document.title = `${text} · Berth`;
  }, [text]);
  return (
    <header className="page-header">
      {crumbs && crumbs.length > 0 ? (
        <nav aria-label="Breadcrumb" className="breadcrumbs">
          <ol>
            {crumbs.map((crumb) => (
              <li key={crumb.to}>
                <Link to={crumb.to}>{crumb.label}</Link>
              </li>
            ))}
          </ol>
        </nav>
      ) : null}
      <div className="page-header-row">
        <h1>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {children}
    </header>
  );
}
