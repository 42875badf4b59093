// The shell: navigation to every screen, the environment picker, routes.
import { lazy, Suspense, useEffect, useState } from "react";
import { createBrowserRouter, Navigate, NavLink, Outlet, RouterProvider } from "react-router";
import { EnvironmentContext, useEnvironments } from "../lib/queries";
import { useSession } from "../lib/session";
import { Loading } from "../components/ui";
import { ExperimentsList } from "../features/experiments/ExperimentsList";
import { ExperimentEditor } from "../features/experiments/ExperimentEditor";
import { FlagsList } from "../features/flags/FlagsList";
import { FlagEditor } from "../features/flags/FlagEditor";
import { EnvironmentsPage, HoldoutsPage, LayersPage, MetricsPage, SegmentsPage } from "../features/catalog";
import { KeysPage } from "../features/keys/KeysPage";
import { UsersPage } from "../features/users/UsersPage";
import { AuditPage } from "../features/audit/AuditPage";
import { EdgesPage } from "../features/edges/EdgesPage";
import { AccountPage } from "../features/auth/AccountPage";

// Results and the comparison carry the charting library: loaded when first opened.
const ResultsPage = lazy(() => import("../features/results/ResultsPage"));
const ComparePage = lazy(() => import("../features/results/ComparePage"));

const NAV: { to: string; label: string; admin?: boolean }[] = [
  { to: "/experiments", label: "Experiments" },
  { to: "/flags", label: "Flags" },
  { to: "/segments", label: "Segments" },
  { to: "/layers", label: "Layers" },
  { to: "/holdouts", label: "Holdouts" },
  { to: "/metrics", label: "Metrics" },
  { to: "/environments", label: "Environments" },
  { to: "/keys", label: "API keys", admin: true },
  { to: "/users", label: "Users", admin: true },
  { to: "/audit", label: "Audit log" },
  { to: "/edges", label: "Edges" },
];

function Layout() {
  const { session, can, signOut } = useSession();
  const environments = useEnvironments();
  const [environment, setEnvironment] = useState(() => localStorage.getItem("vane.environment") ?? "");
  useEffect(() => {
    const keys = (environments.data ?? []).map((e) => e.key);
    if (keys.length && !keys.includes(environment)) setEnvironment(keys.includes("demo") ? "demo" : keys[0]);
  }, [environments.data, environment]);
  useEffect(() => {
    if (environment) localStorage.setItem("vane.environment", environment);
  }, [environment]);
  return (
    <EnvironmentContext.Provider value={{ environment, setEnvironment }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Vane</span>
        <label>
          Environment
          <select value={environment} onChange={(e) => setEnvironment(e.target.value)}>
            {(environments.data ?? []).map((e) => (
              <option key={e.key} value={e.key}>
                {e.key}
              </option>
            ))}
          </select>
        </label>
        <span className="who">
          <NavLink to="/account">{session.user.email}</NavLink> <span className="badge">{session.user.role}</span>
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <div className="body">
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.admin || can("admin")).map((n) => (
              <li key={n.to}>
                <NavLink to={n.to}>{n.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main">
          <Suspense fallback={<Loading what="the page" />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </EnvironmentContext.Provider>
  );
}

function AdminOnly({ children }: { children: React.ReactNode }) {
  const { can } = useSession();
  return can("admin") ? <>{children}</> : <p className="notice">This page is for admins.</p>;
}

const router = createBrowserRouter(
  [
    {
      element: <Layout />,
      children: [
        { index: true, element: <Navigate to="/experiments" replace /> },
        { path: "experiments", element: <ExperimentsList /> },
        { path: "experiments/new", element: <ExperimentEditor /> },
        { path: "experiments/:key", element: <ExperimentEditor /> },
        { path: "experiments/:key/results", element: <ResultsPage /> },
        { path: "compare", element: <ComparePage /> },
        { path: "flags", element: <FlagsList /> },
        { path: "flags/new", element: <FlagEditor /> },
        { path: "flags/:key", element: <FlagEditor /> },
        { path: "segments", element: <SegmentsPage /> },
        { path: "layers", element: <LayersPage /> },
        { path: "holdouts", element: <HoldoutsPage /> },
        { path: "metrics", element: <MetricsPage /> },
        { path: "environments", element: <EnvironmentsPage /> },
        { path: "keys", element: <AdminOnly><KeysPage /></AdminOnly> },
        { path: "users", element: <AdminOnly><UsersPage /></AdminOnly> },
        { path: "audit", element: <AuditPage /> },
        { path: "edges", element: <EdgesPage /> },
        { path: "account", element: <AccountPage /> },
        { path: "*", element: <p className="notice">No such page.</p> },
      ],
    },
  ],
  { basename: "/admin" },
);

export function App() {
  return <RouterProvider router={router} />;
}
