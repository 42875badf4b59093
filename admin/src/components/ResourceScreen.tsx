// List and editor of a keyed resource without a lifecycle (segments, layers, holdouts,
// metrics, environments): one table, one form whose fields each resource describes.
import { useState, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, getAll, request } from "../lib/api";
import type { Role } from "../lib/types";
import { useSession } from "../lib/session";
import { Confirm, Empty, Field, Loading, ProblemNotice, ago } from "./ui";

export interface FieldSpec<T> {
  name: string;
  label: string;
  hint?: string;
  /** The body paths whose problems belong here (default: `name`). */
  paths?: string[];
  render: (draft: T, set: (d: T) => void, props: { id: string; "aria-describedby"?: string }) => ReactNode;
}

export interface ResourceConfig<T extends { key?: string }> {
  title: string;
  singular: string;
  /** The API collection, e.g. `/segments`. */
  path: string;
  /** The audit log's entity type, for conflicts. */
  entity: string;
  writeRole: Role;
  blank: () => T;
  /** The editable fields of a stored item. */
  toDraft: (item: Record<string, unknown>) => T;
  fields: FieldSpec<T>[];
  columns: { label: string; cell: (item: Record<string, unknown>) => ReactNode }[];
  intro?: ReactNode;
}

export function ResourceScreen<T extends { key?: string }>({ config }: { config: ResourceConfig<T> }) {
  const list = useQuery({ queryKey: [config.path.slice(1)], queryFn: () => getAll<Record<string, unknown>>(config.path) });
  const [editing, setEditing] = useState<{ key?: string; version?: number; draft: T } | null>(null);
  const [deleting, setDeleting] = useState<Record<string, unknown> | null>(null);
  const { can } = useSession();
  const writable = can(config.writeRole);
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: [config.path.slice(1)] });

  const save = useMutation({
    mutationFn: (e: NonNullable<typeof editing>) =>
      e.key
        ? request(`${config.path}/${encodeURIComponent(e.key)}`, { method: "PUT", ifMatch: `"${e.version}"`, body: e.draft })
        : request(config.path, { method: "POST", body: e.draft }),
    onSuccess: () => {
      setEditing(null);
      void refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (item: Record<string, unknown>) =>
      request(`${config.path}/${encodeURIComponent(String(item.key))}`, { method: "DELETE", ifMatch: `"${item.version}"` }),
    onSuccess: () => void refresh(),
  });
  const error = save.error as ApiError | null;

  return (
    <section>
      <header className="page-head">
        <h1>{config.title}</h1>
        {writable && !editing && (
          <button type="button" className="primary" onClick={() => { save.reset(); setEditing({ draft: config.blank() }); }}>
            New {config.singular}
          </button>
        )}
      </header>
      {config.intro}
      {!writable && <p className="notice">Your role can read {config.title.toLowerCase()} but not change them.</p>}
      {editing && (
        <form
          className="editor card"
          aria-label={editing.key ? `Edit ${config.singular} ${editing.key}` : `New ${config.singular}`}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(editing);
          }}
        >
          <h2>{editing.key ? `${config.singular} ${editing.key}` : `New ${config.singular}`}</h2>
          {!editing.key && (
            <Field label="Key" error={error} errors={["key"]} hint="A-Z a-z 0-9 _ - . : (cannot change later)">
              {(p) => <input {...p} required value={editing.draft.key ?? ""} onChange={(e) => setEditing({ ...editing, draft: { ...editing.draft, key: e.target.value } })} />}
            </Field>
          )}
          {config.fields.map((f) => (
            <Field key={f.name} label={f.label} hint={f.hint} error={error} errors={f.paths ?? [f.name]}>
              {(p) => f.render(editing.draft, (draft) => setEditing({ ...editing, draft }), p)}
            </Field>
          ))}
          <ProblemNotice
            error={error}
            claimed={["key", ...config.fields.flatMap((f) => f.paths ?? [f.name])]}
            entity={editing.key ? { type: config.entity, key: editing.key } : undefined}
            onReload={async () => {
              const items = await list.refetch();
              const fresh = items.data?.find((i) => i.key === editing.key);
              if (fresh) setEditing({ key: editing.key, version: Number(fresh.version), draft: config.toDraft(fresh) });
              save.reset();
            }}
          />
          <div className="actions">
            <button type="button" onClick={() => setEditing(null)}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save"}
            </button>
          </div>
        </form>
      )}
      <ProblemNotice error={remove.error as ApiError | null} />
      {list.isPending ? (
        <Loading what={config.title.toLowerCase()} />
      ) : list.error ? (
        <ProblemNotice error={list.error} />
      ) : (list.data ?? []).length === 0 ? (
        <Empty>No {config.title.toLowerCase()} yet.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              {config.columns.map((c) => (
                <th scope="col" key={c.label}>
                  {c.label}
                </th>
              ))}
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data ?? []).map((item) => (
              <tr key={String(item.key)}>
                <th scope="row">{String(item.key)}</th>
                {config.columns.map((c) => (
                  <td key={c.label}>{c.cell(item)}</td>
                ))}
                <td>{ago(String(item.updated_at))}</td>
                <td className="row-actions">
                  {writable ? (
                    <>
                      <button type="button" className="link" onClick={() => { save.reset(); setEditing({ key: String(item.key), version: Number(item.version), draft: config.toDraft(item) }); }}>
                        Edit<span className="visually-hidden"> {String(item.key)}</span>
                      </button>
                      <button type="button" className="link danger" onClick={() => setDeleting(item)}>
                        Delete<span className="visually-hidden"> {String(item.key)}</span>
                      </button>
                    </>
                  ) : (
                    <button type="button" className="link" onClick={() => setEditing({ key: String(item.key), version: Number(item.version), draft: config.toDraft(item) })}>
                      View<span className="visually-hidden"> {String(item.key)}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && (
        <Confirm
          title={`Delete ${config.singular} ${String(deleting.key)}?`}
          consequence={<p>It is removed from every snapshot that carries it. Core refuses if something still refers to it.</p>}
          confirmLabel="Delete"
          danger
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            remove.mutate(deleting);
            setDeleting(null);
          }}
        />
      )}
    </section>
  );
}

/** A text input field renderer for `name`. */
export function textField<T>(name: keyof T & string, label: string, hint?: string): FieldSpec<T> {
  return {
    name,
    label,
    hint,
    render: (d, set, p) => <input {...p} value={String((d as Record<string, unknown>)[name] ?? "")} onChange={(e) => set({ ...d, [name]: e.target.value })} />,
  };
}
