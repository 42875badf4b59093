// Server state shared by several screens, cached by TanStack Query.
import { createContext, useContext } from "react";
import { useQuery } from "@tanstack/react-query";
import { getAll } from "./api";
import type { Environment, Experiment, Flag, Holdout, Layer, Metric, Segment } from "./types";

export const useEnvironments = () =>
  useQuery({ queryKey: ["environments"], queryFn: () => getAll<Environment>("/environments") });
export const useSegments = () => useQuery({ queryKey: ["segments"], queryFn: () => getAll<Segment>("/segments") });
export const useLayers = () => useQuery({ queryKey: ["layers"], queryFn: () => getAll<Layer>("/layers") });
export const useHoldouts = () => useQuery({ queryKey: ["holdouts"], queryFn: () => getAll<Holdout>("/holdouts") });
export const useMetrics = () => useQuery({ queryKey: ["metrics"], queryFn: () => getAll<Metric>("/metrics") });
export const useFlags = () => useQuery({ queryKey: ["flags"], queryFn: () => getAll<Flag>("/flags") });
export const useExperiments = () =>
  useQuery({ queryKey: ["experiments"], queryFn: () => getAll<Experiment>("/experiments") });

/** The environment the screens show (picked in the header). */
export const EnvironmentContext = createContext<{ environment: string; setEnvironment: (e: string) => void }>({
  environment: "",
  setEnvironment: () => {},
});
export const useCurrentEnvironment = () => useContext(EnvironmentContext);
