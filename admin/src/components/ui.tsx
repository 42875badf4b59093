// Shared pieces: labelled fields with their problems beside them, problem and conflict
// notices, confirmations that name the consequence, loading and empty states.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useQuery } from "@tanstack/react-query";
import { ApiError, get } from "../lib/api";
import type { AuditEntry } from "../lib/types";

export function Field({
  label,
  error,
  errors,
  hint,
  children,
}: {
  label: string;
  error?: ApiError | null;
  /** The body paths whose problems belong to this field. */
  errors?: string[];
  hint?: string;
  children: (props: { id: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ReactNode;
}) {
  const id = useId();
  const messages = error && errors ? errors.flatMap((p) => error.fieldMessages(p)) : [];
  const describedBy = [hint ? `${id}-hint` : "", messages.length ? `${id}-err` : ""].filter(Boolean).join(" ");
  return (
    <div className={"field" + (messages.length ? " invalid" : "")}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-describedby": describedBy || undefined, "aria-invalid": messages.length > 0 || undefined })}
      {hint && (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      )}
      {messages.length > 0 && (
        <small id={`${id}-err`} className="field-error" role="alert">
          {messages.join("; ")}
        </small>
      )}
    </div>
  );
}

/** A problem that no field claims, or a 412 conflict with who changed what and a reload. */
export function ProblemNotice({
  error,
  claimed = [],
  entity,
  onReload,
}: {
  error: ApiError | Error | null | undefined;
  claimed?: string[];
  entity?: { type: string; key: string };
  onReload?: () => void;
}) {
  if (!error) return null;
  if (error instanceof ApiError && error.status === 412 && entity) {
    return <Conflict entity={entity} onReload={onReload} />;
  }
  if (!(error instanceof ApiError)) return <p className="notice error" role="alert">{error.message}</p>;
  const rest = error.unclaimed(claimed);
  const fieldsShown = (error.problem.errors ?? []).length - rest.length;
  return (
    <div className="notice error" role="alert">
      <strong>{error.problem.title}</strong>
      {fieldsShown > 0 && rest.length === 0 ? (
        <span> — see the highlighted fields.</span>
      ) : (
        <span> — {error.problem.detail}</span>
      )}
      {rest.length > 0 && (
        <ul>
          {rest.map((e, i) => (
            <li key={i}>
              <code>{e.entity ? `${e.entity} ` : ""}{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Conflict({ entity, onReload }: { entity: { type: string; key: string }; onReload?: () => void }) {
  const latest = useQuery({
    queryKey: ["audit", "latest", entity.type, entity.key],
    queryFn: () =>
      get<{ items: AuditEntry[] }>(
        `/audit?entity_type=${encodeURIComponent(entity.type)}&entity_key=${encodeURIComponent(entity.key)}&limit=1`,
      ),
  });
  const entry = latest.data?.items[0];
  return (
    <div className="notice conflict" role="alert">
      <strong>Someone else changed this {entity.type} while you were editing.</strong>
      {entry ? (
        <p>
          {entry.actor} ({entry.action}, {new Date(entry.at).toLocaleString()}) changed{" "}
          {(entry as unknown as { diff?: { path: string }[] }).diff?.map((d) => d.path).join(", ") || "it"}.
        </p>
      ) : (
        <p>Loading who changed it…</p>
      )}
      <p>Your edits are kept below. Reload to see the current version (your edits will be replaced).</p>
      {onReload && (
        <button type="button" onClick={onReload}>
          Reload the current version
        </button>
      )}
    </div>
  );
}

/** A confirmation dialog; `consequence` says what will happen. */
export function Confirm({
  title,
  consequence,
  confirmLabel,
  onConfirm,
  onCancel,
  danger = false,
}: {
  title: string;
  consequence: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  danger?: boolean;
}) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const id = useId();
  return (
    <div className="overlay" role="dialog" aria-modal="true" aria-labelledby={id} onKeyDown={(e) => e.key === "Escape" && onCancel()}>
      <div className="dialog">
        <h2 id={id}>{title}</h2>
        <div>{consequence}</div>
        <div className="actions">
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="button" ref={ref} className={danger ? "danger" : "primary"} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** A JSON text area that parses as you type and says where it does not. */
export function JsonInput({
  value,
  onChange,
  id,
  rows = 6,
  describedBy,
  label,
}: {
  value: unknown;
  onChange: (value: unknown, valid: boolean) => void;
  id?: string;
  rows?: number;
  describedBy?: string;
  label?: string;
}) {
  const [text, setText] = useState(() => JSON.stringify(value, null, 2) ?? "");
  const [problem, setProblem] = useState<string | null>(null);
  const last = useRef(value);
  useEffect(() => {
    if (value !== last.current) {
      last.current = value;
      setText(JSON.stringify(value, null, 2) ?? "");
      setProblem(null);
    }
  }, [value]);
  return (
    <>
      <textarea
        id={id}
        aria-label={label}
        className="json"
        rows={rows}
        spellCheck={false}
        value={text}
        aria-describedby={describedBy}
        aria-invalid={problem ? true : undefined}
        onChange={(e) => {
          setText(e.target.value);
          try {
            const parsed = e.target.value.trim() === "" ? undefined : JSON.parse(e.target.value);
            setProblem(null);
            last.current = parsed;
            onChange(parsed, true);
          } catch (err) {
            setProblem((err as Error).message);
            onChange(undefined, false);
          }
        }}
      />
      {problem && (
        <small className="field-error" role="alert">
          Not JSON: {problem}
        </small>
      )}
    </>
  );
}

/** Comma-separated tags as a list. */
export function TagsInput({ value, onChange, id, ...rest }: { value: string[]; onChange: (v: string[]) => void; id?: string; "aria-describedby"?: string }) {
  const [text, setText] = useState(value.join(", "));
  return (
    <input
      id={id}
      {...rest}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        onChange(
          e.target.value
            .split(",")
            .map((t) => t.trim())
            .filter(Boolean),
        );
      }}
    />
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

export function ago(iso: string): string {
  const ms = Date.now() - new Date(iso).getTime();
  const days = Math.floor(ms / 86_400_000);
  if (days >= 1) return `${days} d ago`;
  const hours = Math.floor(ms / 3_600_000);
  if (hours >= 1) return `${hours} h ago`;
  return `${Math.max(0, Math.floor(ms / 60_000))} min ago`;
}
