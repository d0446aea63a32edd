var t = typeof(TorchSharp.torch).Assembly.GetTypes().Where(t => t.Name.Contains("Approximate")).ToList();
foreach (var x in t) Console.WriteLine(x.FullName + " " + string.Join(",", Enum.GetNames(x)));
